import { createEvent, type EventEnvelope, type EventOrigin } from '@pay/contracts';
import type { Payment } from './payment';

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
} satisfies Record<string, (...args: never[]) => EventEnvelope>;
