import { createEvent, type EventEnvelope, type EventOrigin } from '@pay/contracts';
import type { Payment } from './payment';
import type { Refund } from './refund';

/** The event each move causes, built from the payment as it is after the move. */
function reference(payment: Payment) {
  return { paymentId: payment.id, orderId: payment.orderId, userId: payment.userId, amountMinor: payment.amountMinor, currency: payment.currency };
}

export const paymentEvents = {
  created: (p: Payment, origin: EventOrigin) => createEvent('payment.created', { ...reference(p), method: p.method, expiresAt: p.expiresAt.toISOString() }, origin),
  processing: (p: Payment, origin: EventOrigin) => createEvent('payment.processing', { ...reference(p), method: p.method }, origin),
  verified: (p: Payment, provider: NonNullable<Payment['provider']>, notificationId: string, transactionId: string, origin: EventOrigin) =>
    createEvent('payment.verified', { ...reference(p), provider, notificationId, transactionId }, origin),
  succeeded: (p: Payment, actor: string, origin: EventOrigin) =>
    createEvent('payment.succeeded', { ...reference(p), transactionId: p.transactionId, provider: p.provider, actor }, origin),
  failed: (p: Payment, reason: string, actor: string, provider: Payment['provider'], origin: EventOrigin) =>
    createEvent('payment.failed', { ...reference(p), reason, provider, actor }, origin),
  cancelled: (p: Payment, reason: string, actor: string, origin: EventOrigin) => createEvent('payment.cancelled', { ...reference(p), reason, actor }, origin),
  expired: (p: Payment, actor: string, origin: EventOrigin) => createEvent('payment.expired', { ...reference(p), expiresAt: p.expiresAt.toISOString(), actor }, origin),
  lateSuccess: (p: Payment, transactionId: string | null, provider: Payment['provider'], origin: EventOrigin) =>
    createEvent('payment.late_success', { ...reference(p), transactionId, provider, status: p.status }, origin),
  duplicatePaid: (p: Payment, transactionId: string, provider: Payment['provider'], origin: EventOrigin) =>
    createEvent('payment.duplicate_paid', { ...reference(p), transactionId, provider, firstTransactionId: p.transactionId }, origin),
  refundRequested: (p: Payment, r: Refund, origin: EventOrigin) => createEvent('refund.requested', { ...refundReference(p, r), reason: r.reason, actor: r.actor }, origin),
  refundSucceeded: (p: Payment, r: Refund, origin: EventOrigin) => createEvent('refund.succeeded', { ...refundReference(p, r), providerRefundId: r.providerRefundId }, origin),
  refundFailed: (p: Payment, r: Refund, reason: string, origin: EventOrigin) => createEvent('refund.failed', { ...refundReference(p, r), reason }, origin),
  refunded: (p: Payment, r: Refund, refundedMinor: number, fully: boolean, actor: string, origin: EventOrigin) =>
    createEvent('payment.refunded', { ...reference(p), refundId: r.id, refundMinor: r.amountMinor, refundedMinor, fully, paidOrder: p.status === 'succeeded', reason: r.reason, actor }, origin),
} satisfies Record<string, (...args: never[]) => EventEnvelope>;

function refundReference(payment: Payment, refund: Refund) {
  return { refundId: refund.id, paymentId: payment.id, orderId: payment.orderId, userId: payment.userId, amountMinor: refund.amountMinor, currency: payment.currency };
}
