import mongoose, { type Connection } from 'mongoose';
import type { AnyEvent, AuditAnchor, EventEnvelope } from '@pay/contracts';
import { ensureIndexes } from '@pay/db';
import { createLogger } from '@pay/logger';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';
import { auditModels, type AuditModels } from '../src/data-access/audit-models';
import { AuditRepository } from '../src/data-access/audit-repository';
import { ANCHOR_ACTION, ChainAnchoring } from '../src/data-access/chain-anchoring';
import { buildAuditEntry } from '../src/domain/audit-record';
import { computeDailyReport, produceDailyReport } from '../src/domain/daily-report';
import { anchorMac, type AuditRecord } from '../src/domain/hash-chain';
import { recordAuditEvent } from '../src/domain/record-event';
import { craftedDayEvents, paymentCreated, REPORT_DAY } from './audit-fixtures';

/**
 * Issue 13: the chain cut at its end with write access to the audit database. The head is signed and
 * anchors are kept outside the database; verify compares against them. And the report figures, outside
 * the chain, are rebuilt from verified records.
 */
const CHAIN_KEY = 'anchor-test-chain-key-0123456789abcdef'; // test fixture, not a deployment key
const connections: Connection[] = [];
const logger = createLogger('audit-service', 'error');

async function openAuditLog(label: string): Promise<{ models: AuditModels; store: AuditRepository }> {
  const connection = mongoose.createConnection(testMongoUrl(), { dbName: isolatedPrefix(label), maxPoolSize: 3, autoIndex: false });
  connections.push(connection);
  await connection.asPromise();
  const models = auditModels(connection);
  await ensureIndexes(connection);
  return { models, store: new AuditRepository(models, { chainKey: CHAIN_KEY }) };
}

afterAll(async () => {
  for (const connection of connections) {
    await connection.dropDatabase().catch(() => undefined);
    await connection.close();
  }
});

const at = (minute: number) => `${REPORT_DAY}T09:${String(minute).padStart(2, '0')}:00.000Z`;
const eventsFrom = (first: number, count: number) => Array.from({ length: count }, (_, i) => paymentCreated(first + i, at(first + i)));

async function recordAll(store: AuditRepository, events: AnyEvent[]): Promise<void> {
  for (const event of events) await recordAuditEvent(store, event);
}

async function recordAt(models: AuditModels, seq: number): Promise<AuditRecord> {
  return (await models.records.findOne({ seq }).lean<AuditRecord>())!;
}

/** An anchor as the audit-service signs it (what the order-service would hand back). */
async function anchorOf(models: AuditModels, seq: number): Promise<AuditAnchor> {
  const record = await recordAt(models, seq);
  return { seq, hash: record.hash, mac: anchorMac(seq, record.hash, CHAIN_KEY), anchored_at: new Date().toISOString() };
}

/**
 * The cut of the issue: records after `survivor` deleted, the head replaced by `head` (with the next
 * version, as any writer of the database can do, so the version guard lets it through).
 */
async function cutTailTo(models: AuditModels, survivor: number, head: Record<string, unknown>): Promise<void> {
  await models.records.collection.deleteMany({ seq: { $gt: survivor } });
  await models.checkpoints.collection.deleteMany({ _id: { $gt: survivor } as never });
  const version = (await models.chainHead.findById('head').lean())!.version!;
  await models.chainHead.collection.replaceOne({ _id: 'head' as never }, { ...head, _id: 'head', version: version + 1 });
}

describe('a tail cut with write access to the audit database', () => {
  it('is reported when the head is set to the last survivor: the head is not signed for it (head_forged)', async () => {
    const { models, store } = await openAuditLog('cuthead');
    await recordAll(store, eventsFrom(1, 10));
    const signedMac = (await models.chainHead.findById('head').lean())!.mac;
    const survivor = await recordAt(models, 7);
    await cutTailTo(models, 7, { seq: 7, hash: survivor.hash });
    expect(await store.verify()).toMatchObject({ ok: false, checked: 0, keyed: true, first_bad: { seq: 7, problem: 'head_forged' } });
    // The mac of the head as it was (seq 10) does not pass for seq 7.
    await models.chainHead.collection.updateOne({ _id: 'head' as never }, { $set: { mac: signedMac }, $inc: { version: 1 } });
    expect(await store.verify({ full: true })).toMatchObject({ ok: false, first_bad: { seq: 7, problem: 'head_forged' } });
  });

  it('is reported below the anchor even with an earlier signed head put back (truncated_below_anchor)', async () => {
    const { models, store } = await openAuditLog('cutreplay');
    await recordAll(store, eventsFrom(1, 5));
    const earlierHead = (await models.chainHead.collection.findOne({ _id: 'head' as never }))!;
    await recordAll(store, eventsFrom(6, 5));
    const anchor = await anchorOf(models, 8);
    expect(await store.verify({ anchor })).toMatchObject({ ok: true, anchor: { seq: 8, anchored_at: anchor.anchored_at }, unanchored_records: 2 });

    await cutTailTo(models, 5, earlierHead);
    // Without the anchor the cut is invisible: a head the service once signed, a sound chain up to it.
    expect(await store.verify()).toMatchObject({ ok: true, unanchored_records: 5 });
    expect(await store.verify({ anchor })).toMatchObject({ ok: false, first_bad: { seq: 8, problem: 'truncated_below_anchor' } });
    expect(await store.verify({ anchor, full: true })).toMatchObject({ ok: false, first_bad: { seq: 8, problem: 'truncated_below_anchor' } });
  });

  it('is reported when every record and the head are dropped and an anchor is kept', async () => {
    const { models, store } = await openAuditLog('dropall');
    await recordAll(store, eventsFrom(1, 4));
    const anchor = await anchorOf(models, 4);
    await models.records.collection.deleteMany({});
    await models.chainHead.collection.deleteMany({});
    await models.checkpoints.collection.deleteMany({});
    expect(await store.verify()).toMatchObject({ ok: true, checked: 0 });
    expect(await store.verify({ anchor })).toMatchObject({ ok: false, checked: 0, anchor: { seq: 4 }, first_bad: { seq: 4, problem: 'truncated_below_anchor' } });
  });

  it('is reported when records were appended again over the cut (anchor_mismatch), and a forged anchor is refused', async () => {
    const { models, store } = await openAuditLog('regrow');
    await recordAll(store, eventsFrom(1, 6));
    const anchor = await anchorOf(models, 5);
    const survivor = await recordAt(models, 3);
    await cutTailTo(models, 3, { seq: 3, hash: survivor.hash });
    // A restarted writer chains on from the survivor and signs every head from there on.
    const restarted = new AuditRepository(models, { chainKey: CHAIN_KEY });
    await restarted.repairHead();
    await recordAll(restarted, eventsFrom(20, 3));
    expect(await restarted.verify({ full: true })).toMatchObject({ ok: true, checked: 6 });
    expect(await restarted.verify({ anchor })).toMatchObject({ ok: false, first_bad: { seq: 5, problem: 'anchor_mismatch' } });

    const unsigned = { ...anchor, mac: anchorMac(anchor.seq, anchor.hash) };
    expect(await restarted.verify({ anchor: unsigned })).toMatchObject({ ok: false, first_bad: { seq: 5, problem: 'anchor_forged' } });
  });
});

describe('anchors published by the audit-service', () => {
  function anchoringOf(models: AuditModels, every: number) {
    const published: EventEnvelope<'audit.checkpoint'>[] = [];
    const anchoring = new ChainAnchoring(models, {
      chainKey: CHAIN_KEY,
      every,
      intervalMs: 60_000,
      publish: async (event) => {
        published.push(event as EventEnvelope<'audit.checkpoint'>);
      },
      logger,
    });
    return { anchoring, published };
  }

  it('anchors every N-th record and the moved head, verifiable with the key, and not its own anchor records', async () => {
    const { models, store } = await openAuditLog('publish');
    const { anchoring, published } = anchoringOf(models, 4);
    for (const event of eventsFrom(1, 6)) {
      const outcome = await recordAuditEvent(store, event);
      if (outcome.status === 'appended') await anchoring.afterAppend(outcome.record);
    }
    expect(published.map((event) => event.data.seq)).toEqual([4]);
    expect(published[0]).toMatchObject({ type: 'audit.checkpoint', producer: 'audit-service' });
    expect(await store.verify({ anchor: published[0]!.data })).toMatchObject({ ok: true, anchor: { seq: 4 }, unanchored_records: 2 });

    // The interval anchors the head (6); the anchors' own records (7, 8) do not call for another.
    expect(await anchoring.anchorHeadIfMoved()).toBe(6);
    for (const event of published) await recordAuditEvent(store, event);
    expect([(await recordAt(models, 7)).action, (await recordAt(models, 8)).action]).toEqual([ANCHOR_ACTION, ANCHOR_ACTION]);
    expect(await anchoring.anchorHeadIfMoved()).toBeNull();
    // Nor when one lands on an every-th seq (8): the consumer hands every appended record to afterAppend.
    await anchoring.afterAppend(await recordAt(models, 8));
    expect(published.map((event) => event.data.seq)).toEqual([4, 6]);

    // Real activity since: anchored again.
    await recordAll(store, eventsFrom(10, 1));
    expect(await anchoring.anchorHeadIfMoved()).toBe(9);

    // The report prints the last anchor published.
    const report = await produceDailyReport(store, REPORT_DAY, new Date());
    expect(report.last_anchor).toEqual({ seq: 9, hash: (await recordAt(models, 9)).hash, anchored_at: published.at(-1)!.data.anchored_at });
  });

  it('does not anchor a chain cut and appended to again: the keeper’s latest anchor stays one the cut chain fails', async () => {
    const { models, store } = await openAuditLog('regrowpub');
    const { anchoring, published } = anchoringOf(models, 100);
    await recordAll(store, eventsFrom(1, 6));
    expect(await anchoring.anchorHeadIfMoved()).toBe(6);
    const survivor = await recordAt(models, 3);
    await cutTailTo(models, 3, { seq: 3, hash: survivor.hash });
    const restarted = new AuditRepository(models, { chainKey: CHAIN_KEY });
    await restarted.repairHead();
    await recordAll(restarted, eventsFrom(20, 5));
    expect(await restarted.verify({ full: true })).toMatchObject({ ok: true, checked: 8 });

    expect(await anchoring.anchorHeadIfMoved()).toBeNull();
    const everyEighth = anchoringOf(models, 8);
    await everyEighth.anchoring.afterAppend(await recordAt(models, 8));
    expect(everyEighth.published).toEqual([]);
    expect(published.map((event) => event.data.seq)).toEqual([6]);
    expect(await restarted.verify({ anchor: published[0]!.data })).toMatchObject({ ok: false, first_bad: { seq: 6, problem: 'anchor_mismatch' } });
  });

  it('names the anchor before each one, so a re-grown chain anchored after its last anchor was rewritten still fails the skipped one', async () => {
    const { models, store } = await openAuditLog('skipped');
    const { anchoring, published } = anchoringOf(models, 100);
    await recordAll(store, eventsFrom(1, 3));
    expect(await anchoring.anchorHeadIfMoved()).toBe(3);
    await recordAll(store, eventsFrom(4, 3));
    expect(await anchoring.anchorHeadIfMoved()).toBe(6);
    const [at3, at6] = published.map((event) => event.data);
    expect([at3!.prev, at6!.prev]).toEqual([null, { seq: 3, hash: at3!.hash }]);

    // The cut (to 4), the re-grown chain, and the copy of the last anchor set back to the one at 3.
    const survivor = await recordAt(models, 4);
    await cutTailTo(models, 4, { seq: 4, hash: survivor.hash });
    const restarted = new AuditRepository(models, { chainKey: CHAIN_KEY });
    await restarted.repairHead();
    await recordAll(restarted, eventsFrom(30, 4));
    const lastCopy = (await models.publishedAnchors.findById('last').lean())!;
    await models.publishedAnchors.collection.updateOne({ _id: 'last' as never }, { $set: { seq: 3, hash: at3!.hash }, $inc: { version: 1 } });
    expect(lastCopy.seq).toBe(6);
    expect(await anchoring.anchorHeadIfMoved()).toBe(8);
    const at8 = published.at(-1)!.data;
    expect(at8.prev).toEqual({ seq: 3, hash: at3!.hash }); // the keeper marks 6 as skipped by it

    expect(await restarted.verify({ anchor: at8 })).toMatchObject({ ok: true }); // the latest alone is satisfied
    expect(await restarted.verify({ anchor: at8, skipped: [at6!] })).toMatchObject({ ok: false, first_bad: { seq: 6, problem: 'anchor_mismatch' } });
  });

  it('gives two replicas anchoring the same head one event id', async () => {
    const { models, store } = await openAuditLog('publish2');
    await recordAll(store, eventsFrom(1, 3));
    const first = anchoringOf(models, 100);
    const second = anchoringOf(models, 100);
    await Promise.all([first.anchoring.anchorHeadIfMoved(), second.anchoring.anchorHeadIfMoved()]);
    const ids = [...first.published, ...second.published].map((event) => event.id);
    expect(ids.length).toBeGreaterThanOrEqual(1);
    expect(new Set(ids).size).toBe(1);
  });
});

describe('reports rebuilt from verified records', () => {
  it('restores the true figures after daily_stats and reconciliation were edited directly', async () => {
    const { models, store } = await openAuditLog('rebuild');
    const events = craftedDayEvents();
    await recordAll(store, events);
    const now = new Date('2024-03-16T00:00:00Z');
    const truth = computeDailyReport(events.map((event) => buildAuditEntry(event, now)), REPORT_DAY, now);
    expect(await produceDailyReport(store, REPORT_DAY, now)).toEqual(truth);

    await models.dailyStats.collection.updateOne({ _id: REPORT_DAY as never }, { $set: { 'counts.payment_succeeded': 70, last_seq: 1e9 }, $inc: { version: 1 } });
    await models.reconciliation.collection.updateOne({ _id: 'p7' as never }, { $set: { paid_day: REPORT_DAY }, $inc: { version: 1 } });
    await models.reconciliation.collection.insertOne({ _id: 'forged' as never, succeeded_day: REPORT_DAY, amount_minor: 1, version: 1 });
    expect(await produceDailyReport(store, REPORT_DAY, now)).not.toEqual(truth);

    expect(await store.rebuildReports()).toEqual({ status: 'rebuilt', rebuilt_up_to: events.length, days: 3, reconciliation_rows: expect.any(Number) });
    expect(await produceDailyReport(store, REPORT_DAY, now)).toEqual(truth);
    // The fold goes on from there: a new record of the day is counted once.
    await recordAuditEvent(store, paymentCreated(50, at(50)));
    expect((await store.dayStats(REPORT_DAY)).counts.payment_created).toBe(truth.payments.created + 1);
  });

  it('refuses while the chain does not verify', async () => {
    const { models, store } = await openAuditLog('rebuildno');
    await recordAll(store, eventsFrom(1, 4));
    await models.records.collection.updateOne({ seq: 2 }, { $set: { amount_minor: 1 } });
    expect(await store.rebuildReports()).toMatchObject({ status: 'refused', verification: { ok: false, first_bad: { seq: 2, problem: 'hash_mismatch' } } });
  });

  it('gives exact figures while another replica goes on recording the day', async () => {
    const { models, store } = await openAuditLog('rebuildrace');
    const other = new AuditRepository(models, { chainKey: CHAIN_KEY });
    await recordAll(store, eventsFrom(1, 10));
    await models.dailyStats.collection.updateOne({ _id: REPORT_DAY as never }, { $set: { 'counts.payment_created': 1 }, $inc: { version: 1 } });
    const [outcome] = await Promise.all([store.rebuildReports(), recordAll(other, eventsFrom(11, 10))]);
    expect(outcome.status).toBe('rebuilt');
    await other.foldPending();
    await store.foldPending();
    expect((await store.dayStats(REPORT_DAY)).counts).toEqual({ payment_created: 20 });
  });
});
