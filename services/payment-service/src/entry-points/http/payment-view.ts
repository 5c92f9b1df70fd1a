import type { PaymentView, RefundView } from '@pay/contracts';
import { formatMinorAmount } from '@pay/money';
import type { Payment } from '../../domain/payment';
import { committedMinor, type Refund } from '../../domain/refund';

/** The public shape of a payment (the original frontend's fields, money as "99.00"). */
export function toPaymentView(payment: Payment): PaymentView {
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
    logs: payment.logs.map((entry) => ({
      at: entry.at.toISOString(),
      event: entry.event,
      from: entry.from,
      to: entry.to,
      actor: entry.actor,
      detail: entry.detail,
    })),
  };
}

/** The public shape of a refund (the design's fields, money as "10.00"). */
export function toRefundView(payment: Payment, refund: Refund): RefundView {
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
    logs: refund.logs.map((entry) => ({ at: entry.at.toISOString(), event: entry.event, from: entry.from, to: entry.to, actor: entry.actor, detail: entry.detail })),
  };
}
