import type { AuditEventView } from '@pay/contracts';
import { formatMinorAmount, isMinorAmount } from '@pay/money';
import type { AuditRecord } from '../../domain/hash-chain';


/** The public shape of an audit record (money also as "99.00"). */
export function toAuditEventView(record: AuditRecord): AuditEventView {
  const amountMinor = record.amount_minor ?? null;
  return {
    id: record._id,
    seq: record.seq,
    action: record.action,
    event_type: record.event_type,
    occurred_at: new Date(record.occurred_at).toISOString(),
    recorded_at: new Date(record.recorded_at).toISOString(),
    day: record.day,
    payment_id: record.payment_id ?? null,
    order_id: record.order_id ?? null,
    user_id: record.user_id ?? null,
    amount_minor: amountMinor,
    // A tampered record may hold anything; the view still renders (verify is what reports it).
    amount: amountMinor !== null && isMinorAmount(amountMinor) ? formatMinorAmount(amountMinor) : null,
    currency: record.currency ?? null,
    transaction_id: record.transaction_id ?? null,
    provider: record.provider ?? null,
    reason: record.reason ?? null,
    error: record.error ?? null,
    verify_ms: record.verify_ms ?? null,
    correlation_id: record.correlation_id,
    causation_id: record.causation_id ?? null,
    producer: record.producer,
    data: record.data ?? {},
    prev_hash: record.prev_hash,
    hash: record.hash,
  };
}
