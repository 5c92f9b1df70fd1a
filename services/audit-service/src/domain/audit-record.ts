import type { AnyEvent } from '@pay/contracts';

/**
 * One audit record's content: the event flattened into the fields the original audit logger wrote
 * (action, payment, order, user, amount, transaction, provider, reason/error) plus the whole event data.
 * The chain fields (`seq`, `prev_hash`, `hash`) are added by ./hash-chain.ts when it is appended.
 */
export interface AuditEntry {
  /** The event id: storing a record under it is what makes consumption idempotent. */
  _id: string;
  action: string;
  event_type: string;
  occurred_at: Date;
  recorded_at: Date;
  /** UTC day of `occurred_at`, stored because FerretDB v1 has no `$dateToString` to bucket with. */
  day: string;
  payment_id: string | null;
  order_id: string | null;
  user_id: string | null;
  amount_minor: number | null;
  currency: string | null;
  transaction_id: string | null;
  provider: string | null;
  reason: string | null;
  error: string | null;
  /** Callback handling time (callback.verified / callback.rejected) for the response-time report. */
  verify_ms: number | null;
  correlation_id: string;
  causation_id: string | null;
  producer: string;
  data: Record<string, unknown>;
}

/** The original's action names; every other event type is audited as its type with `.` → `_`. */
const NAMED_ACTIONS: Record<string, string> = {
  'payment.created': 'payment_created',
  'payment.verified': 'payment_verified',
  'payment.succeeded': 'payment_succeeded',
  'payment.failed': 'payment_failed',
  'payment.refunded': 'payment_refunded',
};

/**
 * Where the record's amount is not the event's `amountMinor`: a payment refund records this refund's
 * amount (the original's `payment_refunded`), its event's `amountMinor` being the payment's.
 */
const AMOUNT_FIELDS: Partial<Record<AnyEvent['type'], string>> = {
  'payment.refunded': 'refundMinor',
};

/** Rejection reasons that mean the notification's signature could not be trusted. */
const SIGNATURE_FAILURE_REASONS = ['bad_signature', 'missing_signature', 'unknown_serial'];

export const SIGNATURE_FAILURE_ACTION = 'signature_verification_failed';

export function actionFor(type: string, data: Record<string, unknown>): string {
  if (type === 'callback.rejected') {
    const reason = typeof data.reason === 'string' ? data.reason : '';
    return SIGNATURE_FAILURE_REASONS.some((prefix) => reason.startsWith(prefix)) ? SIGNATURE_FAILURE_ACTION : 'callback_rejected';
  }
  return NAMED_ACTIONS[type] ?? type.replace(/\./g, '_');
}

/** YYYY-MM-DD of an instant, in UTC (the reports' day boundary). */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

export function buildAuditEntry(event: AnyEvent, recordedAt: Date): AuditEntry {
  const data = event.data as Record<string, unknown>;
  const occurredAt = new Date(event.occurred_at);
  const reason = text(data.reason);
  return {
    _id: event.id,
    action: actionFor(event.type, data),
    event_type: event.type,
    occurred_at: occurredAt,
    recorded_at: recordedAt,
    day: utcDay(occurredAt),
    payment_id: text(data.paymentId),
    order_id: text(data.orderId),
    user_id: text(data.userId),
    amount_minor: integer(data[AMOUNT_FIELDS[event.type] ?? 'amountMinor']),
    currency: text(data.currency),
    transaction_id: text(data.transactionId),
    provider: text(data.provider),
    reason,
    // A rejected callback's reason is the error the original logged with `signature_verification_failed`.
    error: text(data.error) ?? (event.type === 'callback.rejected' ? reason : null),
    verify_ms: number(data.verifyMs),
    correlation_id: event.correlation_id,
    causation_id: event.causation_id,
    producer: event.producer,
    data: { ...data },
  };
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function integer(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : null;
}

function number(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
