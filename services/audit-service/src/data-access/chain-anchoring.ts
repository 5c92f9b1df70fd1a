import { createEvent, deterministicEventId, type AuditAnchor, type EventEnvelope } from '@pay/contracts';
import type { Logger } from '@pay/logger';
import { anchorMac, type AuditRecord } from '../domain/hash-chain';
import { LAST_ANCHOR_ID, type AuditModels } from './audit-models';
import { upsertIf } from './guarded-upsert';
import { DEFAULT_CHECKPOINT_EVERY, walkStoredChain } from './verify-stored-chain';

/** The action under which this service's own `audit.checkpoint` events are recorded in the chain. */
export const ANCHOR_ACTION = 'audit_checkpoint';
/**
 * At most this many records past the last anchor are read to see whether they are all anchor records
 * (the usual case: the last anchor's own record, or two when replicas anchored side by side); more than
 * that is real activity.
 */
const ANCHOR_ONLY_WINDOW = 8;

export interface ChainAnchoringOptions {
  chainKey: string | null;
  /** AUDIT_ANCHOR_EVERY: the writer of every such seq anchors it. */
  every: number;
  /** AUDIT_ANCHOR_INTERVAL_S: how often each replica anchors the verified head when it moved. */
  intervalMs: number;
  /** AUDIT_CHECKPOINT_EVERY, for the checkpoints the periodic walk stores. */
  checkpointEvery?: number;
  /** Publishes with a broker confirm (rejects when the broker did not take it). */
  publish: (event: EventEnvelope) => Promise<void>;
  logger: Logger;
}

/**
 * Publishes signed anchors of the chain (`audit.checkpoint`), kept outside the audit database by the
 * order-service, so a tail cut below an anchor cannot go unnoticed (see verifyStoredChain):
 *  - the writer of every `every`-th record anchors it right after appending it, unless it is an anchor's;
 *  - every `intervalMs`, each replica anchors the head, verified first by the incremental walk, when
 *    records other than anchors were appended since the last anchor published: the service records its
 *    own `audit.checkpoint` events too, so an anchor's record alone must not call for another anchor
 *    (that would anchor forever on an idle chain).
 * Safe with several replicas: the event id is derived from the anchored point, so two replicas anchoring
 * the same head publish one event (consumers keep it once), and the last anchor stored here only moves
 * forward. A failed publish is logged and left to the next interval (the head has then moved).
 */
export class ChainAnchoring {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(
    private readonly models: AuditModels,
    private readonly options: ChainAnchoringOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /**
   * After an append: the writer of an `every`-th record anchors it, unless that record is an anchor's own
   * (it vouches for nothing new, and its anchor's record would follow it). Never throws (the record is stored).
   */
  async afterAppend(record: AuditRecord): Promise<void> {
    if (record.seq % this.options.every !== 0 || record.action === ANCHOR_ACTION) return;
    try {
      await this.anchor(record);
    } catch (error) {
      this.options.logger.warn('audit anchor not published; the next interval anchors the head', { seq: record.seq, error: (error as Error).message });
    }
  }

  /** One interval pass; resolves to the anchored seq, or null when nothing needed (or could get) an anchor. */
  async anchorHeadIfMoved(): Promise<number | null> {
    const last = await this.models.publishedAnchors.findById(LAST_ANCHOR_ID).lean();
    const lastSeq = last?.seq ?? 0;
    const walk = await walkStoredChain(this.models, this.options.chainKey, { checkpointEvery: this.options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY });
    if (!walk.ok) {
      // Anchoring a broken chain would vouch for it; verify reports the fault.
      this.options.logger.error('audit chain does not verify: no anchor published', { first_bad: walk.first_bad });
      return null;
    }
    if (!walk.head || walk.head.seq <= lastSeq || (await this.onlyAnchorsSince(lastSeq, walk.head.seq))) return null;
    const record = await this.models.records.findOne({ seq: walk.head.seq }).lean<AuditRecord>();
    if (!record || record.hash !== walk.head.hash) return null; // the head moved on meanwhile: next pass
    return (await this.anchor(record)) ? record.seq : null;
  }

  /**
   * Publishes the anchor of `record` with a confirm, then remembers it as the last one published. Refused
   * when the chain no longer reaches the last anchor published (the record there carries another hash):
   * a chain cut and appended to again must not be anchored past the cut, which would make the keeper's
   * latest anchor one the altered chain satisfies. Resolves false when refused; rejects when the publish failed.
   */
  private async anchor(record: AuditRecord): Promise<boolean> {
    const last = await this.models.publishedAnchors.findById(LAST_ANCHOR_ID).lean();
    // At or below the last anchor: nothing new to vouch for (another replica anchored it, or further).
    if (last && last.seq >= record.seq) return false;
    if (last && (await this.models.records.findOne({ seq: last.seq }, { hash: 1 }).lean<Pick<AuditRecord, 'hash'>>())?.hash !== last.hash) {
      this.options.logger.error('audit chain no longer reaches the last anchor published: no anchor published', { last_anchor: last.seq, seq: record.seq });
      return false;
    }
    const data: AuditAnchor = {
      seq: record.seq,
      hash: record.hash,
      mac: anchorMac(record.seq, record.hash, this.options.chainKey),
      records_at: new Date(record.recorded_at).toISOString(),
      anchored_at: new Date().toISOString(),
      // The keeper marks the anchors this one skips: with `published_anchors` rewritten to an earlier anchor,
      // a re-grown chain's anchor skips the ones over the cut, and verify checks those.
      prev: last ? { seq: last.seq, hash: last.hash } : null,
    };
    const event = createEvent('audit.checkpoint', data, { producer: 'audit-service', id: deterministicEventId(`audit.checkpoint|${record.seq}|${record.hash}`) });
    await this.options.publish(event);
    await upsertIf(
      this.models.publishedAnchors.collection,
      LAST_ANCHOR_ID,
      { seq: { $lt: record.seq } },
      { $set: { seq: record.seq, hash: record.hash, mac: data.mac, anchored_at: new Date(data.anchored_at) } },
    );
    return true;
  }

  /** True when every record in (after, upTo] is an anchor's own record (read by seq equality: few, indexed). */
  private async onlyAnchorsSince(after: number, upTo: number): Promise<boolean> {
    if (upTo - after > ANCHOR_ONLY_WINDOW) return false;
    const seqs = Array.from({ length: upTo - after }, (_, i) => after + 1 + i);
    const records = await Promise.all(seqs.map((seq) => this.models.records.findOne({ seq }, { action: 1 }).lean<Pick<AuditRecord, 'action'>>()));
    return records.every((record) => record?.action === ANCHOR_ACTION);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.anchorHeadIfMoved()
        .then(
          () => undefined,
          (error: Error) => {
            this.options.logger.warn('audit anchor pass failed; will retry', { error: error.message });
          },
        )
        .finally(() => {
          this.running = null;
          this.schedule();
        });
    }, this.options.intervalMs);
  }
}
