import { statsIncrementFor } from '../domain/daily-stats';
import type { AuditRecord } from '../domain/hash-chain';
import { reconciliationChangeFor } from '../domain/reconciliation';
import { CHAIN_HEAD_ID, type AuditModels } from './audit-models';
import { upsertIf } from './guarded-upsert';

export const FOLD_CURSOR_ID = 'daily_stats';
const FOLD_BATCH = 200;
/** Records read by seq at once (in parallel) when folding what follows the cursor. */
const FOLD_LOOKUPS = 8;
/** What a fold (and a rebuild, ./report-rebuilder.ts) reads of a record. */
export const FOLDED_FIELDS = { seq: 1, day: 1, action: 1, payment_id: 1, order_id: 1, amount_minor: 1, currency: 1, transaction_id: 1, occurred_at: 1 };

/**
 * Folds appended records into the report projections (`daily_stats` and `reconciliation`) in seq order,
 * each record exactly once, with any number of replicas folding at the same time.
 *
 * Every folder walks records in seq order from a point up to which everything is folded (the shared
 * fold cursor, saved only after folding), and finishes one record before the next. So when a folder
 * reaches seq s, every lower seq is already folded, and each projected document keeps the highest seq
 * applied to it (`last_seq`): a write conditional on `last_seq < s` that also sets `last_seq = s` applies
 * s once, and a folder that reaches s late (another replica got there first) changes nothing. A crash
 * between the two writes of one record is completed by the next walk over it.
 *
 * Those conditional writes must be atomic across replicas. On MongoDB they are. FerretDB v1 writes back
 * what it read without re-checking the condition, so two replicas could both apply one record (the
 * second write silently replacing the first), or a late write could replace a newer record's; there
 * the version guard refuses the later write and the retry re-evaluates it (./guarded-upsert.ts).
 */
export class StatsFolder {
  /** Every record with seq ≤ folded is folded; undefined = not known yet. */
  private folded: number | undefined = undefined;

  constructor(private readonly models: AuditModels) {}

  /**
   * Folds what is not folded yet; `justAppended` (this writer's last append) spares the query when it is
   * next. Resolves to the number of records this call counted: a record another replica counted first
   * is not among them, so over all replicas the counts add up to the records appended.
   */
  async foldPending(justAppended: AuditRecord | null): Promise<number> {
    if (justAppended && this.folded !== undefined && justAppended.seq === this.folded + 1) {
      const counted = await this.foldRecord(justAppended);
      this.folded = justAppended.seq;
      await this.saveCursor(this.folded);
      return counted ? 1 : 0;
    }
    // Another replica may have folded past this one's position: start from the further of the two.
    let folded = Math.max(this.folded ?? 0, await this.storedCursor());
    this.folded = folded;
    let walked = 0;
    let counted = 0;
    for (;;) {
      const batch = await this.nextRecords(folded);
      for (const record of batch) {
        if (await this.foldRecord(record)) counted += 1;
        this.folded = folded = record.seq;
        walked += 1;
      }
      // A run shorter than the lookups ended at the last record (or at a gap, which the next fold pages past).
      if (batch.length < FOLD_LOOKUPS) break;
    }
    if (walked > 0) await this.saveCursor(folded);
    return counted;
  }

  /**
   * The records after `folded`, in seq order. Usually a few, read by `seq` equality (the shape every
   * store answers from an index; FerretDB v1 answers a `$gt` page by reading and sorting the whole
   * collection, which made every fold cost as much as the chain was long). A seq not found below the
   * head is a gap (a cut chain continues past it): then one keyset page finds what follows it.
   */
  private async nextRecords(folded: number): Promise<AuditRecord[]> {
    const seqs = Array.from({ length: FOLD_LOOKUPS }, (_, i) => folded + 1 + i);
    const found = await Promise.all(seqs.map((seq) => this.models.records.findOne({ seq }, FOLDED_FIELDS).lean<AuditRecord>()));
    const run: AuditRecord[] = [];
    for (const record of found) {
      if (!record) break;
      run.push(record);
    }
    if (run.length > 0) return run;
    const head = await this.models.chainHead.findById(CHAIN_HEAD_ID, { seq: 1 }).lean();
    if (!head || head.seq <= folded) return [];
    return this.models.records.find({ seq: { $gt: folded } }, FOLDED_FIELDS).sort({ seq: 1 }).limit(FOLD_BATCH).lean<AuditRecord[]>();
  }

  /** Folds one record; true when this call counted it in its day (false: it already was). */
  private async foldRecord(record: AuditRecord): Promise<boolean> {
    const increment = statsIncrementFor(record);
    const counted = await upsertIf(
      this.models.dailyStats.collection,
      record.day,
      { last_seq: { $lt: record.seq } },
      { ...(Object.keys(increment).length > 0 ? { $inc: increment } : {}), $set: { last_seq: record.seq } },
    );
    const change = reconciliationChangeFor(record);
    if (change) {
      await upsertIf(
        this.models.reconciliation.collection,
        change.paymentId,
        // A row written before `last_seq` existed has none: it has not seen this record either.
        { $or: [{ last_seq: { $lt: record.seq } }, { last_seq: { $exists: false } }] },
        {
          $set: { ...change.set, last_seq: record.seq },
          ...(change.inc ? { $inc: change.inc } : {}),
          ...(change.min ? { $min: change.min } : {}),
        },
      );
    }
    return counted;
  }

  private async storedCursor(): Promise<number> {
    return (await this.models.foldCursor.findById(FOLD_CURSOR_ID).lean())?.seq ?? 0;
  }

  /** Moves the shared cursor forward to `seq`; never backwards (a replica behind another leaves it). */
  private async saveCursor(seq: number): Promise<void> {
    await upsertIf(this.models.foldCursor.collection, FOLD_CURSOR_ID, { seq: { $lt: seq } }, { $set: { seq } });
  }
}
