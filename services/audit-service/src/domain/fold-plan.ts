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

/**
 * Groups a run of records (in seq order) by the documents they change, each group's changes combined
 * into one update. Folding the group in one write is the same as folding its records one by one, in
 * order, as long as the document has seen none of them yet (its `last_seq` < `firstSeq`).
 */
export function planFold(records: FoldedRecord[]): FoldPlan {
  const days = new Map<string, DocumentFold<Record<string, number>>>();
  const rows = new Map<string, DocumentFold<ReconciliationChange>>();
  for (const record of records) {
    const increment = statsIncrementFor(record);
    const day = days.get(record.day);
    if (day) {
      day.change = sumIncrements([day.change, increment]);
      day.records.push(record);
      day.lastSeq = record.seq;
    } else {
      days.set(record.day, { id: record.day, firstSeq: record.seq, lastSeq: record.seq, records: [record], change: increment });
    }
    const change = reconciliationChangeFor(record);
    if (!change) continue;
    const row = rows.get(change.paymentId);
    if (row) {
      row.change = combineReconciliationChanges(row.change, change);
      row.records.push(record);
      row.lastSeq = record.seq;
    } else {
      rows.set(change.paymentId, { id: change.paymentId, firstSeq: record.seq, lastSeq: record.seq, records: [record], change });
    }
  }
  return { days: [...days.values()], rows: [...rows.values()] };
}
