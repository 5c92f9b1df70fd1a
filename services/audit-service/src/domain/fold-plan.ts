import { statsIncrementFor, sumIncrements } from './daily-stats';
import type { AuditRecord } from './hash-chain';
import { combineReconciliationChanges, reconciliationChangeFor, type ReconciliationChange } from './reconciliation';

/** The fields of a record a fold reads. */
export type FoldedRecord = Pick<AuditRecord, 'seq' | 'day' | 'action' | 'payment_id' | 'order_id' | 'amount_minor' | 'currency' | 'transaction_id' | 'occurred_at'>;

/**
 * What a run of records does to one projected document (a day's stats or a payment's reconciliation
 * row), as one write: `records` are the run's records that touch it, in seq order, `firstSeq` / `lastSeq`
 * their lowest and highest seq.
 */
export interface DocumentFold<Change> {
  id: string;
  firstSeq: number;
  lastSeq: number;
  records: FoldedRecord[];
  change: Change;
}

export interface FoldPlan {
  days: DocumentFold<Record<string, number>>[];
  rows: DocumentFold<ReconciliationChange>[];
}

/** What records add to their day, as one `$inc`. */
export function dayChangeOf(records: readonly FoldedRecord[]): Record<string, number> {
  return sumIncrements(records.map(statsIncrementFor));
}

/** What records (of one payment, in seq order, each changing its row) do to the row, as one update. */
export function rowChangeOf(records: readonly FoldedRecord[]): ReconciliationChange {
  return records.map((record) => reconciliationChangeFor(record)!).reduce(combineReconciliationChanges);
}

/**
 * Groups a run of records (in seq order) by the documents they change, each group's changes combined
 * into one update. Folding the group in one write is the same as folding its records one by one, in
 * order, as long as the document has seen none of them yet (its `last_seq` < `firstSeq`).
 */
export function planFold(records: readonly FoldedRecord[]): FoldPlan {
  const days = new Map<string, FoldedRecord[]>();
  const rows = new Map<string, FoldedRecord[]>();
  const add = (groups: Map<string, FoldedRecord[]>, id: string, record: FoldedRecord) => {
    const group = groups.get(id);
    if (group) group.push(record);
    else groups.set(id, [record]);
  };
  for (const record of records) {
    add(days, record.day, record);
    const paymentId = reconciliationChangeFor(record)?.paymentId;
    if (paymentId) add(rows, paymentId, record);
  }
  const fold = <Change>(id: string, group: FoldedRecord[], changeOf: (records: FoldedRecord[]) => Change): DocumentFold<Change> => ({
    id,
    firstSeq: group[0]!.seq,
    lastSeq: group.at(-1)!.seq,
    records: group,
    change: changeOf(group),
  });
  return {
    days: [...days].map(([day, group]) => fold(day, group, dayChangeOf)),
    rows: [...rows].map(([paymentId, group]) => fold(paymentId, group, rowChangeOf)),
  };
}
