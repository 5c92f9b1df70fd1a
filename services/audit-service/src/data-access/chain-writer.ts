import { setTimeout as sleep } from 'node:timers/promises';
import { isDuplicateKeyError } from '@pay/db';
import type { AuditEntry } from '../domain/audit-record';
import type { AppendOutcome } from '../domain/audit-store';
import { chainNext, headMac, type AuditRecord, type ChainTip } from '../domain/hash-chain';
import { CHAIN_HEAD_ID, type AuditModels } from './audit-models';
import { upsertIf } from './guarded-upsert';
import { blockOf, consecutiveRecords } from './seq-lookups';

/** Seq lookups made at once when looking for the end of another writer's run. */
const END_PROBES = 8;

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
 * moves it up to the last of the records that follow it, and verify tolerates a lagging head whose hash
 * matches.
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
    return (await this.appendMany([entry]))[0]!;
  }

  /**
   * Appends the entries in order as consecutive records: one ordered insert for all of them and one head
   * advance (step 1 and 2 above, for a run). The insert stops at the first record that clashes; those
   * before it are stored. A clash on `_id` makes that entry a duplicate; a clash on `seq` (another writer
   * appended first) re-chains it and the rest after that writer's record. Outcomes are in entry order.
   */
  async appendMany(entries: readonly AuditEntry[]): Promise<AppendOutcome[]> {
    const outcomes: AppendOutcome[] = new Array<AppendOutcome>(entries.length);
    let pending = entries.map((entry, index) => ({ entry, index }));
    let lastStored: ChainTip | null = null;
    for (let conflicts = 0; pending.length > 0; ) {
      if (this.tip === undefined) this.tip = await this.loadTip();
      const records: AuditRecord[] = [];
      for (const { entry } of pending) records.push(chainNext(entry, records.at(-1) ?? this.tip, this.chainKey));
      let stored = records.length;
      let clash: unknown = null;
      try {
        await this.models.records.collection.insertMany(records.map((record) => ({ ...record, block: blockOf(record.seq) })) as never[], { ordered: true });
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
        stored = storedBeforeClash(error, records.length);
        clash = error;
      }
      for (let i = 0; i < stored; i++) outcomes[pending[i]!.index] = { status: 'appended', record: records[i]! };
      if (stored > 0) this.tip = lastStored = { seq: records[stored - 1]!.seq, hash: records[stored - 1]!.hash };
      if (!clash) break;
      const clashing = pending[stored]!;
      if (await this.models.records.exists({ _id: clashing.entry._id })) {
        outcomes[clashing.index] = { status: 'duplicate', id: clashing.entry._id };
        pending = pending.slice(stored + 1);
        continue;
      }
      conflicts += 1;
      if (conflicts >= this.maxAppendAttempts) throw new Error(`audit append gave up after ${conflicts} seq conflicts`, { cause: clash });
      // Someone else took this seq, and likely a whole run after it: chain after the end of it.
      const end = await this.endOfRunFrom(records[stored]!.seq);
      if (end) {
        this.tip = end;
      } else {
        this.tip = undefined;
        await sleep(5 + Math.floor(Math.random() * 20));
      }
      pending = pending.slice(stored);
    }
    if (lastStored) await this.advanceHead(lastStored);
    return outcomes;
  }

  /**
   * The last record of the unbroken run of records from `seq` on (null: none at `seq`). Read by `seq`
   * equality, a window of lookups at a time, rather than by a reload of the tip, which sorts the
   * collection: a writer that reloaded on every conflict fell behind a busy replica for good, and one that
   * stepped one seq per conflict lost every time to a replica appending runs.
   */
  private async endOfRunFrom(seq: number): Promise<ChainTip | null> {
    let end: ChainTip | null = null;
    for (let from = seq; ; from += END_PROBES) {
      const run = await consecutiveRecords<ChainTip>(this.models, from, END_PROBES, { seq: 1, hash: 1 });
      if (run.length > 0) end = { seq: run.at(-1)!.seq, hash: run.at(-1)!.hash };
      if (run.length < END_PROBES) return end;
    }
  }

  async repairHead(): Promise<number> {
    this.tip = await this.loadTip();
    return this.tip?.seq ?? 0;
  }

  /**
   * The chain's end: the head, or the last of the records right after it if the head lags them (a crash
   * between insert and head advance; the head is then repaired). Those are read by `seq` lookups: a read
   * of the highest record sorts the whole collection on FerretDB v1 (seconds at 40k records, at every
   * start of every replica). Only without a head is the highest record looked for that way.
   */
  private async loadTip(): Promise<ChainTip | null> {
    const head = await this.models.chainHead.findById(CHAIN_HEAD_ID).lean();
    const last = head
      ? await this.endOfRunFrom(head.seq + 1)
      : await this.models.records.findOne({}, { seq: 1, hash: 1 }).sort({ seq: -1 }).lean();
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

/**
 * How many records an ordered insert stored before the one that clashed: the index of its first write
 * error (MongoDB and FerretDB both report it); without one, none is known to be stored.
 */
function storedBeforeClash(error: unknown, attempted: number): number {
  const index = (error as { writeErrors?: { index?: unknown }[] }).writeErrors?.[0]?.index;
  return typeof index === 'number' && index >= 0 && index < attempted ? index : 0;
}
