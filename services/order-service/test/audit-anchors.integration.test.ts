import mongoose, { type Connection } from 'mongoose';
import { createEvent, type AuditAnchor } from '@pay/contracts';
import { ensureIndexes } from '@pay/db';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';
import { auditAnchorModel, AuditAnchorRepository } from '../src/data-access/audit-anchor-repository';
import { keepAuditAnchor } from '../src/domain/audit-anchors';

/** The order-service keeps the audit chain's anchors in its own database (the audit database's writer cannot reach them). */
const connections: Connection[] = [];

async function openKeeper(label: string): Promise<{ connection: Connection; anchors: AuditAnchorRepository }> {
  const connection = mongoose.createConnection(testMongoUrl(), { dbName: isolatedPrefix(label), maxPoolSize: 3, autoIndex: false });
  connections.push(connection);
  await connection.asPromise();
  const anchors = new AuditAnchorRepository(auditAnchorModel(connection));
  await ensureIndexes(connection);
  return { connection, anchors };
}

afterAll(async () => {
  for (const connection of connections) {
    await connection.dropDatabase().catch(() => undefined);
    await connection.close();
  }
});

const hashOf = (seq: number, variant = 0) => (seq * 10 + variant).toString(16).padStart(64, '0');
/** The anchor of `seq` published after the one at `prev` (null: the first). `variant`: another chain's record there. */
const anchorAt = (seq: number, prev: number | null, variant = 0): AuditAnchor => ({
  seq,
  hash: hashOf(seq, variant),
  mac: 'f'.repeat(64),
  records_at: '2024-03-15T10:00:00.000Z',
  anchored_at: `2024-03-15T10:00:${String(seq % 60).padStart(2, '0')}.000Z`,
  prev: prev === null ? null : { seq: prev, hash: hashOf(prev) },
});
const checkpointEvent = (anchor: AuditAnchor) => createEvent('audit.checkpoint', anchor, { producer: 'audit-service' });

describe('audit anchors kept by the order-service', () => {
  it('keeps each anchor once by event id, and answers the highest seq whatever the arrival order', async () => {
    const { connection, anchors } = await openKeeper('anchors');
    expect(await anchors.anchorsToCheck()).toEqual({ latest: null, skipped: [] });
    const at200 = checkpointEvent(anchorAt(200, 100));
    expect(await keepAuditAnchor(anchors, at200)).toBe(true);
    expect(await keepAuditAnchor(anchors, at200)).toBe(false); // redelivered
    expect(await keepAuditAnchor(anchors, checkpointEvent(anchorAt(100, null)))).toBe(true); // late
    expect(await connection.collection('audit_anchors').countDocuments({})).toBe(2);
    // Anchors that follow one another skip nothing.
    expect(await anchors.anchorsToCheck()).toEqual({ latest: anchorAt(200, 100), skipped: [] });
  });

  it('hands on the anchors a later one skipped (a chain cut and anchored again past the cut), in either arrival order', async () => {
    for (const order of ['in order', 'reversed'] as const) {
      const { anchors } = await openKeeper(`skip${order === 'in order' ? 'a' : 'b'}`);
      // 100 and 200 anchor the chain; after a cut at 150 it is re-grown and anchored at 250, its `prev`
      // set back to 100 (published_anchors rewritten): 200 is skipped.
      const events = [anchorAt(100, null), anchorAt(200, 100), anchorAt(250, 100, 1)].map(checkpointEvent);
      for (const event of order === 'in order' ? events : events.reverse()) await keepAuditAnchor(anchors, event);
      expect(await anchors.anchorsToCheck()).toEqual({ latest: anchorAt(250, 100, 1), skipped: [anchorAt(200, 100)] });
    }
  });
});
