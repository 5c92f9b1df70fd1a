import type { Identity, PaymentLogView, PaymentView, RefundView } from '@pay/contracts';
import { formatMinorAmount } from '@pay/money';
import type { Payment, PaymentLogEntry } from '../../domain/payment';
import { committedMinor, type Refund, type RefundLogEntry } from '../../domain/refund';

/** Who acts on a payment, as written in its log: `<kind>:<who>` (`admin:<sub>`, `system:sweeper`, `provider:wechatpay`). */
const ACTOR_KINDS = ['customer', 'admin', 'system', 'provider'] as const;

/** An actor reduced to its kind; one of another shape shows as `system` (no id leaks through a new format). */
function actorKindOf(actor: string): string {
  const kind = actor.split(':', 1)[0];
  return (ACTOR_KINDS as readonly string[]).includes(kind!) ? kind! : 'system';
}

/**
 * A log entry as `viewer` may see it. Admins and auditors get it whole. A customer gets who acted as a
 * kind only and no detail: the actor's id names staff (`admin:<sub>`) and the detail is free text (an
 * admin's reason, a provider's error, transaction ids), both internal; the event and states say what happened.
 */
function logView(entry: PaymentLogEntry | RefundLogEntry, viewer: Identity): PaymentLogView {
  const whole = viewer.role !== 'customer';
  return {
    at: entry.at.toISOString(),
    event: entry.event,
    from: entry.from,
    to: entry.to,
    actor: whole ? entry.actor : actorKindOf(entry.actor),
    detail: whole ? entry.detail : null,
  };
}

/** The public shape of a payment (the original frontend's fields, money as "99.00"), its log as `viewer` may see it. */
export function toPaymentView(payment: Payment, viewer: Identity): PaymentView {
  return {
    id: payment.id,
    order_id: payment.orderId,
    user_id: payment.userId,
    amount: formatMinorAmount(payment.amountMinor),
    currency: payment.currency,
    method: payment.method,
    status: payment.status,
    created_at: payment.createdAt.toISOString(),
    updated_at: payment.updatedAt.toISOString(),
    expires_at: payment.expiresAt.toISOString(),
    transaction_id: payment.transactionId,
    late_success: payment.lateSuccess,
    provider: payment.providerOrder?.provider ?? payment.provider,
    channel: payment.providerOrder?.channel ?? null,
    // Only while it can still be paid: a closed payment's provider order is closed too.
    pay_params: payment.status === 'processing' ? (payment.providerOrder?.payParams ?? null) : null,
    refunded_amount: formatMinorAmount(committedMinor(payment.refunds)),
    duplicate_transactions: payment.duplicateTransactions.map((duplicate) => duplicate.transactionId),
    logs: payment.logs.map((entry) => logView(entry, viewer)),
  };
}

/** The public shape of a refund (the design's fields, money as "10.00"), its log as `viewer` may see it. */
export function toRefundView(payment: Payment, refund: Refund, viewer: Identity): RefundView {
  return {
    id: refund.id,
    payment_id: payment.id,
    order_id: payment.orderId,
    amount: formatMinorAmount(refund.amountMinor),
    currency: payment.currency,
    reason: refund.reason,
    status: refund.status,
    provider_refund_id: refund.providerRefundId,
    created_at: refund.createdAt.toISOString(),
    updated_at: refund.updatedAt.toISOString(),
    logs: refund.logs.map((entry) => logView(entry, viewer)),
  };
}
