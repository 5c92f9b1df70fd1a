import type { PaymentView } from '@pay/contracts';
import { formatMinorAmount } from '@pay/money';
import type { Payment } from '../../domain/payment';

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
