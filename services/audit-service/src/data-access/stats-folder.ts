import type { Collection } from 'mongoose';
import { dayChangeOf, planFold, rowChangeOf, type DocumentFold, type FoldedRecord } from '../domain/fold-plan';
import type { ReconciliationChange } from '../domain/reconciliation';
import { CHAIN_HEAD_ID, type AuditModels } from './audit-models';
import { upsertIf } from './guarded-upsert';
import { consecutiveRecords } from './seq-lookups';

export const FOLD_CURSOR_ID = 'daily_stats';
const FOLD_BATCH = 200;
/** Records read by seq at once (in parallel) when folding what follows the cursor. */
const FOLD_LOOKUPS = 8;
/** Projected documents written at once by one fold (each service's database pool is small). */
const PARALLEL_WRITES = 4;
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
 * A run of records is folded together (domain/fold-plan.ts): each document they touch gets one write
 * with their changes combined, conditional on `last_seq` < the run's first seq for it, so it applies
 * only if the document has seen none of them. Every record it has seen is at or below its `last_seq`
 * (documents only ever see records in seq order), so when that write is refused, the records above
 * `last_seq` are exactly those still to apply, and they go again the same way.
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
   * Folds what is not folded yet; `justAppended` (this writer's last appends, in seq order) spares the
   * reads when they are next. Resolves to the number of records this call counted: a record another
   * replica counted first is not among them, so over all replicas the counts add up to the records
   * appended.
   */
  async foldPending(justAppended: readonly FoldedRecord[] = []): Promise<number> {
    if (this.folded !== undefined && followsWithoutGap(this.folded, justAppended)) {
      const counted = await this.foldRun(justAppended);
      this.folded = justAppended.at(-1)!.seq;
      await this.saveCursor(this.folded);
      return counted;
    }
    // Another replica may have folded past this one's position: start from the further of the two.
    let folded = Math.max(this.folded ?? 0, await this.storedCursor());
    this.folded = folded;
    let walked = 0;
    let counted = 0;
    for (;;) {
      const run = await this.nextRecords(folded);
      if (run.length > 0) {
        counted += await this.foldRun(run);
        this.folded = folded = run.at(-1)!.seq;
        walked += run.length;
      }
      // A run shorter than the lookups ended at the last record (or at a gap, which the next fold pages past).
      if (run.length < FOLD_LOOKUPS) break;
    }
    if (walked > 0) await this.saveCursor(folded);
    return counted;
  }

  /**
   * The records after `folded`, in seq order. Usually a few, read by `seq` equality (the shape every
   * store answers from an index; FerretDB v1 answers a `$gt` page by reading and sorting the whole
   * collection, which made every fold cost as much as the chain was long). None found: the head is read,
   * then the lookups are made again, because a record is stored before the head moves past it: one
   * appended meanwhile (by another replica, all the time under load) is found then. A seq still missing
   * at or below the head is a gap (a cut chain continues past it): then one keyset page finds what
   * follows it.
   */
  private async nextRecords(folded: number): Promise<FoldedRecord[]> {
    const lookUp = () => consecutiveRecords<FoldedRecord>(this.models, folded + 1, FOLD_LOOKUPS, FOLDED_FIELDS);
    const run = await lookUp();
    if (run.length > 0) return run;
    const head = await this.models.chainHead.findById(CHAIN_HEAD_ID, { seq: 1 }).lean();
    if (!head || head.seq <= folded) return [];
    const appendedMeanwhile = await lookUp();
    if (appendedMeanwhile.length > 0) return appendedMeanwhile;
    return this.models.records.find({ seq: { $gt: folded } }, FOLDED_FIELDS).sort({ seq: 1 }).limit(FOLD_BATCH).lean<FoldedRecord[]>();
  }

  /**
   * Folds a run of records (every lower seq is folded): one combined write per document it touches, a
   * few documents at a time. Resolves to how many of them this call counted in their day.
   */
  private async foldRun(run: readonly FoldedRecord[]): Promise<number> {
    const plan = planFold(run);
    const days = plan.days.map((fold) => () =>
      this.foldDocument(fold, dayChangeOf, (increment, firstSeq, lastSeq) => this.writeDay(fold.id, increment, firstSeq, lastSeq), this.models.dailyStats.collection),
    );
    const rows = plan.rows.map((fold) => async () => {
      await this.foldDocument(fold, rowChangeOf, (change, firstSeq, lastSeq) => this.writeRow(change, firstSeq, lastSeq), this.models.reconciliation.collection);
      return 0;
    });
    const counted = await inBatches([...days, ...rows], PARALLEL_WRITES);
    return counted.reduce((sum, count) => sum + count, 0);
  }

  /**
   * One document's part of a run: the records' changes combined, written once if the document has seen
   * none of them. Refused, another folder has applied some of them first (its combined write, or one
   * from before a crash): the document's `last_seq` says which, and the rest go again the same way.
   * Resolves to the number of records this call applied.
   */
  private async foldDocument<Change>(
    fold: DocumentFold<Change>,
    changeOf: (records: readonly FoldedRecord[]) => Change,
    write: (change: Change, firstSeq: number, lastSeq: number) => Promise<boolean>,
    collection: Collection,
  ): Promise<number> {
    if (await write(fold.change, fold.firstSeq, fold.lastSeq)) return fold.records.length;
    let unseen: readonly FoldedRecord[] = fold.records;
    for (;;) {
      const seen = await this.lastSeqOf(collection, fold.id);
      unseen = unseen.filter((record) => record.seq > seen);
      if (unseen.length === 0) return 0;
      if (await write(changeOf(unseen), unseen[0]!.seq, unseen.at(-1)!.seq)) return unseen.length;
    }
  }

  private async lastSeqOf(collection: Collection, id: string): Promise<number> {
    const document = await collection.findOne({ _id: id as never }, { projection: { last_seq: 1 } });
    return typeof document?.last_seq === 'number' ? document.last_seq : 0;
  }

  /** Adds `increment` to the day, once: only if the day has seen no record from `firstSeq` on. */
  private writeDay(day: string, increment: Record<string, number>, firstSeq: number, lastSeq: number): Promise<boolean> {
    return upsertIf(
      this.models.dailyStats.collection,
      day,
      { last_seq: { $lt: firstSeq } },
      { ...(Object.keys(increment).length > 0 ? { $inc: increment } : {}), $set: { last_seq: lastSeq } },
    );
  }

  /** Applies `change` to its payment's row, once: only if the row has seen no record from `firstSeq` on. */
  private writeRow(change: ReconciliationChange, firstSeq: number, lastSeq: number): Promise<boolean> {
    return upsertIf(
      this.models.reconciliation.collection,
      change.paymentId,
      // A row written before `last_seq` existed has none: it has not seen this record either.
      { $or: [{ last_seq: { $lt: firstSeq } }, { last_seq: { $exists: false } }] },
      {
        $set: { ...change.set, last_seq: lastSeq },
        ...(change.inc ? { $inc: change.inc } : {}),
        ...(change.min ? { $min: change.min } : {}),
      },
    );
  }

  private async storedCursor(): Promise<number> {
    return (await this.models.foldCursor.findById(FOLD_CURSOR_ID).lean())?.seq ?? 0;
  }

  /** Moves the shared cursor forward to `seq`; never backwards (a replica behind another leaves it). */
  private async saveCursor(seq: number): Promise<void> {
    await upsertIf(this.models.foldCursor.collection, FOLD_CURSOR_ID, { seq: { $lt: seq } }, { $set: { seq } });
  }
}

/** `records` directly follow `folded`, seq after seq. */
function followsWithoutGap(folded: number, records: readonly FoldedRecord[]): boolean {
  return records.length > 0 && records.every((record, i) => record.seq === folded + 1 + i);
}

/** Runs the tasks at most `width` at a time; resolves to their results in order. */
async function inBatches<T>(tasks: (() => Promise<T>)[], width: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, tasks.length) }, worker));
  return results;
}
