import { formatMinorAmount } from '@pay/money';
import type { AuditEntry } from './audit-record';

/**
 * Reconciliation joins three facts by payment id: the payment succeeded, its order was paid, the
 * provider reported a late success. One row per payment, updated with `$set` at append time (naturally
 * idempotent), so a report asks only for the rows that do NOT match instead of joining all history
 * (FerretDB v1 has no `$lookup` anyway).
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
}

export interface ReconciliationChange {
  paymentId: string;
  set: Omit<ReconciliationRow, 'payment_id'>;
}

type RecordFacts = Pick<AuditEntry, 'action' | 'payment_id' | 'order_id' | 'amount_minor' | 'currency' | 'transaction_id' | 'day' | 'occurred_at'>;

export function reconciliationChangeFor(record: RecordFacts): ReconciliationChange | null {
  if (!record.payment_id) return null;
  const payment = { amount_minor: record.amount_minor, currency: record.currency, transaction_id: record.transaction_id };
  switch (record.action) {
    case 'payment_succeeded':
      return { paymentId: record.payment_id, set: { order_id: record.order_id, ...payment, succeeded_day: record.day, succeeded_at: record.occurred_at } };
    case 'order_paid':
      return { paymentId: record.payment_id, set: { order_id: record.order_id, paid_day: record.day, paid_at: record.occurred_at } };
    case 'payment_late_success':
      return { paymentId: record.payment_id, set: { order_id: record.order_id, ...payment, late_success_day: record.day, late_success_at: record.occurred_at } };
    default:
      return null;
  }
}

/** Builds the rows in memory from records (the pure twin of the database projection). */
export function reconciliationRowsOf(records: RecordFacts[]): ReconciliationRow[] {
  const rows = new Map<string, ReconciliationRow>();
  for (const record of records) {
    const change = reconciliationChangeFor(record);
    if (!change) continue;
    rows.set(change.paymentId, { ...rows.get(change.paymentId), ...change.set, payment_id: change.paymentId, order_id: change.set.order_id });
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
}

export interface UnmatchedOrder {
  order_id: string | null;
  payment_id: string;
  paid_at: string | null;
}

export interface Reconciliation {
  /** payment.succeeded recorded, no order.paid for that payment (the order never became paid). */
  payments_succeeded_without_order_paid: UnmatchedPayment[];
  /** order.paid recorded, no payment.succeeded for its payment. */
  orders_paid_without_payment_succeeded: UnmatchedOrder[];
  /** The provider took the money after the payment expired: to be refunded. */
  late_successes: UnmatchedPayment[];
}

/** Mismatches as of the end of `day` (UTC): everything that happened on or before it counts. */
export function reconcile(rows: ReconciliationRow[], day: string): Reconciliation {
  const by = (field: 'succeeded_day' | 'paid_day' | 'late_success_day', row: ReconciliationRow) => {
    const value = row[field];
    return typeof value === 'string' && value <= day;
  };
  const sorted = [...rows].sort((a, b) => (a.payment_id < b.payment_id ? -1 : a.payment_id > b.payment_id ? 1 : 0));
  return {
    payments_succeeded_without_order_paid: sorted
      .filter((row) => by('succeeded_day', row) && !by('paid_day', row))
      .map((row) => unmatchedPayment(row, row.succeeded_at)),
    orders_paid_without_payment_succeeded: sorted
      .filter((row) => by('paid_day', row) && !by('succeeded_day', row))
      .map((row) => ({ order_id: row.order_id ?? null, payment_id: row.payment_id, paid_at: iso(row.paid_at) })),
    late_successes: sorted.filter((row) => by('late_success_day', row)).map((row) => unmatchedPayment(row, row.late_success_at)),
  };
}

function unmatchedPayment(row: ReconciliationRow, at: Date | null | undefined): UnmatchedPayment {
  const amountMinor = row.amount_minor ?? null;
  return {
    payment_id: row.payment_id,
    order_id: row.order_id ?? null,
    amount_minor: amountMinor,
    amount: amountMinor === null ? null : formatMinorAmount(amountMinor),
    currency: row.currency ?? null,
    transaction_id: row.transaction_id ?? null,
    occurred_at: iso(at),
  };
}

function iso(at: Date | null | undefined): string | null {
  return at ? new Date(at).toISOString() : null;
}
