import { formatMinorAmount } from '@pay/money';
import type { AuditEntry } from './audit-record';

/**
 * Reconciliation joins the facts of one payment by its id: the payment succeeded, its order was paid,
 * the provider reported a late success, money was taken again (duplicate payments), money went back
 * (refunds). One row per payment, updated at fold time (each record once, in seq order), so a report
 * asks only for the rows that do NOT match instead of joining all history (FerretDB v1 has no `$lookup`
 * anyway).
 *
 * Duplicates and refunds are kept per UTC day (`{'YYYY-MM-DD': {count, amount_minor}}`, added with
 * `$inc`), so "as of the end of a day" sums the days up to it, whatever order the records came in.
 */
export interface ReconciliationRow {
  payment_id: string;
  order_id: string | null;
  amount_minor?: number | null;
  currency?: string | null;
  transaction_id?: string | null;
  succeeded_day?: string | null;
  succeeded_at?: Date | null;
  paid_day?: string | null;
  paid_at?: Date | null;
  late_success_day?: string | null;
  late_success_at?: Date | null;
  /** The first duplicate payment (`$min`): what the candidates query bounds. */
  duplicate_day?: string | null;
  duplicate_at?: Date | null;
  /** Money taken again for the payment (payment.duplicate_paid), by the day it was reported. */
  duplicates?: Record<string, DayTally> | null;
  /** Money sent back for the payment (payment.refunded: each refund's own amount), by day. */
  refunds?: Record<string, DayTally> | null;
}

export interface DayTally {
  count: number;
  amount_minor: number;
}

/** What one record changes in its payment's row, in the shape of a MongoDB update. */
export interface ReconciliationChange {
  paymentId: string;
  set: Omit<ReconciliationRow, 'payment_id'>;
  /** Added (`$inc`), dotted paths into `duplicates` / `refunds`. */
  inc?: Record<string, number>;
  /** Kept at the earliest value (`$min`). */
  min?: Partial<Pick<ReconciliationRow, 'duplicate_day' | 'duplicate_at'>>;
}

type RecordFacts = Pick<AuditEntry, 'action' | 'payment_id' | 'order_id' | 'amount_minor' | 'currency' | 'transaction_id' | 'day' | 'occurred_at'>;

const DAY_KEY = /^\d{4}-\d{2}-\d{2}$/;

export function reconciliationChangeFor(record: RecordFacts): ReconciliationChange | null {
  if (!record.payment_id) return null;
  const paymentId = record.payment_id;
  const payment = { amount_minor: record.amount_minor, currency: record.currency, transaction_id: record.transaction_id };
  switch (record.action) {
    case 'payment_succeeded':
      return { paymentId, set: { order_id: record.order_id, ...payment, succeeded_day: record.day, succeeded_at: record.occurred_at } };
    case 'order_paid':
      return { paymentId, set: { order_id: record.order_id, paid_day: record.day, paid_at: record.occurred_at } };
    case 'payment_late_success':
      return { paymentId, set: { order_id: record.order_id, ...payment, late_success_day: record.day, late_success_at: record.occurred_at } };
    case 'payment_duplicate_paid':
      // The payment's amount, taken again under another transaction (the first transaction id stays).
      return tallied(record, 'duplicates', { order_id: record.order_id, amount_minor: record.amount_minor, currency: record.currency }, {
        duplicate_day: record.day,
        duplicate_at: record.occurred_at,
      });
    case 'payment_refunded':
      // The record's amount is this refund's, not the payment's.
      return tallied(record, 'refunds', { order_id: record.order_id, currency: record.currency });
    default:
      return null;
  }
}

function tallied(
  record: RecordFacts,
  field: 'duplicates' | 'refunds',
  set: ReconciliationChange['set'],
  min?: ReconciliationChange['min'],
): ReconciliationChange | null {
  if (!DAY_KEY.test(record.day) || record.amount_minor === null) return null;
  const inc = { [`${field}.${record.day}.count`]: 1, [`${field}.${record.day}.amount_minor`]: record.amount_minor };
  return { paymentId: record.payment_id!, set, inc, ...(min ? { min } : {}) };
}

/**
 * Two changes of one row as one update that does what applying `first`, then `then`, does: the later
 * `$set` wins, `$inc`s add up, `$min` keeps the earlier value.
 */
export function combineReconciliationChanges(first: ReconciliationChange, then: ReconciliationChange): ReconciliationChange {
  const inc = { ...first.inc };
  for (const [path, by] of Object.entries(then.inc ?? {})) inc[path] = (inc[path] ?? 0) + by;
  const min = { ...first.min };
  const day = then.min?.duplicate_day;
  if (day && (!min.duplicate_day || day < min.duplicate_day)) min.duplicate_day = day;
  const at = then.min?.duplicate_at;
  if (at && (!min.duplicate_at || at < min.duplicate_at)) min.duplicate_at = at;
  return {
    paymentId: first.paymentId,
    set: { ...first.set, ...then.set },
    ...(Object.keys(inc).length > 0 ? { inc } : {}),
    ...(Object.keys(min).length > 0 ? { min } : {}),
  };
}

/** Applies a change in memory, exactly as the database applies its `$set`, `$inc` and `$min`. */
export function applyReconciliationChange(row: ReconciliationRow | undefined, change: ReconciliationChange): ReconciliationRow {
  const next: ReconciliationRow = { ...row, ...change.set, payment_id: change.paymentId, order_id: change.set.order_id };
  for (const [path, by] of Object.entries(change.inc ?? {})) {
    const [field, day, figure] = path.split('.') as ['duplicates' | 'refunds', string, keyof DayTally];
    const tally = { count: 0, amount_minor: 0, ...next[field]?.[day] };
    tally[figure] += by;
    next[field] = { ...next[field], [day]: tally };
  }
  if (change.min?.duplicate_day && (!next.duplicate_day || change.min.duplicate_day < next.duplicate_day)) next.duplicate_day = change.min.duplicate_day;
  if (change.min?.duplicate_at && (!next.duplicate_at || change.min.duplicate_at < next.duplicate_at)) next.duplicate_at = change.min.duplicate_at;
  return next;
}

/** Builds the rows in memory from records (the pure twin of the database projection). */
export function reconciliationRowsOf(records: RecordFacts[]): ReconciliationRow[] {
  const rows = new Map<string, ReconciliationRow>();
  for (const record of records) {
    const change = reconciliationChangeFor(record);
    if (change) rows.set(change.paymentId, applyReconciliationChange(rows.get(change.paymentId), change));
  }
  return [...rows.values()];
}

export interface UnmatchedPayment {
  payment_id: string;
  order_id: string | null;
  amount_minor: number | null;
  amount: string | null;
  currency: string | null;
  transaction_id: string | null;
  occurred_at: string | null;
  /** All refunds of the payment up to the end of the day. */
  refunded_minor: number;
  refunded: string;
  /** What is still to go back under this heading (0 in `refunded_in_full`). */
  open_minor: number;
  open: string;
}

export interface DuplicatePayment extends UnmatchedPayment {
  /** Times the payment was paid again, and that money (up to the end of the day). */
  duplicate_count: number;
  duplicate_minor: number;
  duplicate_amount: string;
}

/** Why money of a payment had to go back. */
export type RefundCause = 'succeeded_without_order_paid' | 'late_success' | 'duplicate_payment';

export interface RefundedPayment extends UnmatchedPayment {
  causes: RefundCause[];
}

export interface UnmatchedOrder {
  order_id: string | null;
  payment_id: string;
  paid_at: string | null;
}

export interface Reconciliation {
  /** payment.succeeded recorded, no order.paid for that payment (the order never became paid), not refunded in full. */
  payments_succeeded_without_order_paid: UnmatchedPayment[];
  /** order.paid recorded, no payment.succeeded for its payment. */
  orders_paid_without_payment_succeeded: UnmatchedOrder[];
  /** The provider took the money after the payment closed: to be refunded (listed until it is, in full). */
  late_successes: UnmatchedPayment[];
  /** The provider took the money again under another transaction: to be refunded (listed until it is). */
  duplicate_payments: DuplicatePayment[];
  /** Not a mismatch: payments whose money to go back (any of the above) was refunded in full on this day. */
  refunded_in_full: RefundedPayment[];
}

/** What a row owes back as of the end of a day, each cause on its own. */
interface Balance {
  succeededWithoutOrderPaid: boolean;
  lateSuccess: boolean;
  duplicates: DayTally;
  refundedMinor: number;
  /** The payment's own amount, when it paid no order. */
  ownExcess: number;
  ownOpen: number;
  duplicateOpen: number;
}

/**
 * Money that must go back: the payment's own amount when it paid no order (a late success, or a success
 * whose order never became paid), and every duplicate. Refunds are fungible per payment; they count
 * against the duplicates first, then the payment's own amount: a paid order's payment keeps its amount,
 * so what is refunded beyond its duplicates is the order's refund, not a settlement.
 */
function balanceOf(row: ReconciliationRow, counts: (day: string | null | undefined) => boolean): Balance {
  const succeededWithoutOrderPaid = counts(row.succeeded_day) && !counts(row.paid_day);
  const lateSuccess = counts(row.late_success_day);
  const duplicates = tallyUpTo(row.duplicates, counts);
  const refundedMinor = tallyUpTo(row.refunds, counts).amount_minor;
  const ownExcess = succeededWithoutOrderPaid || lateSuccess ? (row.amount_minor ?? 0) : 0;
  const leftAfterDuplicates = Math.max(0, refundedMinor - duplicates.amount_minor);
  return {
    succeededWithoutOrderPaid,
    lateSuccess,
    duplicates,
    refundedMinor,
    ownExcess,
    ownOpen: Math.max(0, ownExcess - leftAfterDuplicates),
    duplicateOpen: Math.max(0, duplicates.amount_minor - refundedMinor),
  };
}

function tallyUpTo(byDay: Record<string, DayTally> | null | undefined, counts: (day: string) => boolean): DayTally {
  const total = { count: 0, amount_minor: 0 };
  for (const [day, tally] of Object.entries(byDay ?? {})) {
    if (!counts(day)) continue;
    total.count += tally.count ?? 0;
    total.amount_minor += tally.amount_minor ?? 0;
  }
  return total;
}

const settled = (balance: Balance) => balance.ownExcess + balance.duplicates.amount_minor > 0 && balance.ownOpen + balance.duplicateOpen === 0;

/** Mismatches as of the end of `day` (UTC): everything that happened on or before it counts. */
export function reconcile(rows: ReconciliationRow[], day: string): Reconciliation {
  const atEnd = (value: string | null | undefined) => typeof value === 'string' && value <= day;
  const before = (value: string | null | undefined) => typeof value === 'string' && value < day;
  const sorted = [...rows].sort((a, b) => (a.payment_id < b.payment_id ? -1 : a.payment_id > b.payment_id ? 1 : 0));
  const balances = sorted.map((row) => ({ row, balance: balanceOf(row, atEnd), previous: balanceOf(row, before) }));
  return {
    payments_succeeded_without_order_paid: balances
      .filter(({ balance }) => balance.succeededWithoutOrderPaid && balance.ownOpen > 0)
      .map(({ row, balance }) => unmatchedPayment(row, row.succeeded_at, balance, balance.ownOpen)),
    orders_paid_without_payment_succeeded: sorted
      .filter((row) => atEnd(row.paid_day) && !atEnd(row.succeeded_day))
      .map((row) => ({ order_id: row.order_id ?? null, payment_id: row.payment_id, paid_at: iso(row.paid_at) })),
    late_successes: balances
      .filter(({ balance }) => balance.lateSuccess && balance.ownOpen > 0)
      .map(({ row, balance }) => unmatchedPayment(row, row.late_success_at, balance, balance.ownOpen)),
    duplicate_payments: balances
      .filter(({ balance }) => balance.duplicateOpen > 0)
      .map(({ row, balance }) => ({
        ...unmatchedPayment(row, row.duplicate_at, balance, balance.duplicateOpen),
        duplicate_count: balance.duplicates.count,
        duplicate_minor: balance.duplicates.amount_minor,
        duplicate_amount: formatMinorAmount(balance.duplicates.amount_minor),
      })),
    refunded_in_full: balances
      .filter(({ balance, previous }) => settled(balance) && !settled(previous))
      .map(({ row, balance }) => ({
        ...unmatchedPayment(row, row.late_success_at ?? row.succeeded_at ?? row.duplicate_at, balance, 0),
        causes: causesOf(balance),
      })),
  };
}

function causesOf(balance: Balance): RefundCause[] {
  const causes: RefundCause[] = [];
  if (balance.succeededWithoutOrderPaid) causes.push('succeeded_without_order_paid');
  if (balance.lateSuccess) causes.push('late_success');
  if (balance.duplicates.count > 0) causes.push('duplicate_payment');
  return causes;
}

function unmatchedPayment(row: ReconciliationRow, at: Date | null | undefined, balance: Balance, openMinor: number): UnmatchedPayment {
  const amountMinor = row.amount_minor ?? null;
  return {
    payment_id: row.payment_id,
    order_id: row.order_id ?? null,
    amount_minor: amountMinor,
    amount: amountMinor === null ? null : formatMinorAmount(amountMinor),
    currency: row.currency ?? null,
    transaction_id: row.transaction_id ?? null,
    occurred_at: iso(at),
    refunded_minor: balance.refundedMinor,
    refunded: formatMinorAmount(balance.refundedMinor),
    open_minor: openMinor,
    open: formatMinorAmount(openMinor),
  };
}

function iso(at: Date | null | undefined): string | null {
  return at ? new Date(at).toISOString() : null;
}
