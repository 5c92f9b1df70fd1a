import { setTimeout as sleep } from 'node:timers/promises';
import { isDuplicateKeyError } from '@pay/db';
import type { AuditEntry } from '../domain/audit-record';
import type { AppendOutcome } from '../domain/audit-store';
import { chainNext, headMac, type ChainTip } from '../domain/hash-chain';
import { CHAIN_HEAD_ID, type AuditModels } from './audit-models';
import { upsertIf } from './guarded-upsert';

export interface ChainWriterOptions {
  /** Attempts when another writer keeps taking the next seq (two replicas appending at once). */
  maxAppendAttempts?: number;
  /** HMAC key of the chain (AUDIT_CHAIN_KEY); null: plain SHA-256. */
  chainKey?: string | null;
}

/**
 * Appends records to the hash chain. FerretDB v1 has no transactions, so every step is one
 * single-document write that a crash may interrupt at any point and a retry completes:
 *   1. insert the record with `_id` = event id and `seq` = tip + 1: E11000 on `_id` means this event is
 *      already stored (duplicate, nothing changes); E11000 on `seq` means another writer appended first,
 *      so reload the tip and chain after it. Insert-only with unique indexes: safe across replicas.
 *   2. advance the chain head (`{_id:'head', seq, hash}`): only ever forwards, even when replicas race
 *      (a conditional, version-guarded upsert, see ./guarded-upsert.ts).
 * A crash after 1 leaves the head behind: `repairHead` (at start-up, and whenever the tip is reloaded)
 * moves it up to the highest record, and verify tolerates a lagging head whose hash matches.
 * The next seq is chained from whichever is further, head or last record: after a tail was cut off, new
 * records chain past the gap, so the cut stays visible instead of being papered over.
 */
export class ChainWriter {
  /** This writer's view of the chain's end; undefined = reload from the database. */
  private tip: ChainTip | null | undefined = undefined;
  private readonly maxAppendAttempts: number;
  private readonly chainKey: string | null;

  constructor(
    private readonly models: AuditModels,
    options: ChainWriterOptions = {},
  ) {
    this.maxAppendAttempts = options.maxAppendAttempts ?? 1_000;
    this.chainKey = options.chainKey ?? null;
  }

  async append(entry: AuditEntry): Promise<AppendOutcome> {
    for (let attempt = 1; ; attempt++) {
      if (this.tip === undefined) this.tip = await this.loadTip();
      const record = chainNext(entry, this.tip, this.chainKey);
      try {
        await this.models.records.collection.insertOne(record as never);
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
        if (await this.models.records.exists({ _id: entry._id })) return { status: 'duplicate', id: entry._id };
        if (attempt >= this.maxAppendAttempts) throw new Error(`audit append gave up after ${attempt} seq conflicts`, { cause: error });
        // Someone else took this seq: chain after their record. One lookup by the unique seq (an index
        // on every store) rather than a reload of the whole tip, which sorts the collection: a writer
        // that reloaded on every conflict fell behind a busy replica for good (it never won a seq).
        const taken = await this.models.records.findOne({ seq: record.seq }, { seq: 1, hash: 1 }).lean();
        if (taken) {
          this.tip = { seq: taken.seq, hash: taken.hash };
        } else {
          this.tip = undefined;
          await sleep(5 + Math.floor(Math.random() * 20));
        }
        continue;
      }
      this.tip = { seq: record.seq, hash: record.hash };
      await this.advanceHead(this.tip);
      return { status: 'appended', record };
    }
  }

  async repairHead(): Promise<number> {
    this.tip = await this.loadTip();
    return this.tip?.seq ?? 0;
  }

  /** The chain's end: the head, or the highest record if the head lags it (which is then repaired). */
  private async loadTip(): Promise<ChainTip | null> {
    const [head, last] = await Promise.all([
      this.models.chainHead.findById(CHAIN_HEAD_ID).lean(),
      this.models.records.findOne({}, { seq: 1, hash: 1 }).sort({ seq: -1 }).lean(),
    ]);
    if (last && (!head || last.seq > head.seq)) {
      const tip = { seq: last.seq, hash: last.hash };
      await this.advanceHead(tip);
      return tip;
    }
    return head ? { seq: head.seq, hash: head.hash } : null;
  }

  /**
   * Moves the head forward to `tip`, signed (`headMac`) in the same write; a head already at or past it
   * stays where it is.
   */
  private async advanceHead(tip: ChainTip): Promise<void> {
    const mac = headMac(tip.seq, tip.hash, this.chainKey);
    await upsertIf(this.models.chainHead.collection, CHAIN_HEAD_ID, { seq: { $lt: tip.seq } }, { $set: { seq: tip.seq, hash: tip.hash, mac } });
  }
}
