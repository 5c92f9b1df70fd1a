import type { EventOrigin } from '@pay/contracts';
import { isTerminal, move } from './payment';
import { paymentEvents } from './payment-events';
import type { PaymentStore } from './payment-store';
import { updatePayment } from './update-payment';

/** init → processing: the customer starts paying. */
export function startPayment(store: PaymentStore, paymentId: string, actor: string, origin: EventOrigin) {
  return updatePayment(store, paymentId, (payment) => ({
    kind: 'change',
    outcome: 'started',
    change: move(payment, 'processing', 'started', actor),
    events: (after) => [paymentEvents.processing(after, origin)],
  }));
}

export type FailureOutcome = 'failed' | 'already_closed';

/**
 * processing → failed. A failure for a payment already closed changes nothing (idempotent; a late
 * failure never regresses a success), but is noted in its log.
 */
export function failPayment(store: PaymentStore, paymentId: string, reason: string, actor: string, provider: 'mock' | 'wechatpay' | 'alipay' | null, origin: EventOrigin) {
  return updatePayment<FailureOutcome>(store, paymentId, (payment) => {
    if (isTerminal(payment.status)) {
      return {
        kind: 'none',
        outcome: 'already_closed',
        note: { at: new Date(), event: 'failure_ignored', from: payment.status, to: payment.status, actor, detail: `failure after ${payment.status}: ${reason}` },
      };
    }
    if (payment.status === 'init') {
      // A provider can only fail a payment that was started; record the implied start.
      const start = move(payment, 'processing', 'started', actor, 'implied by provider failure');
      const failure = move({ ...payment, status: 'processing' }, 'failed', 'failed', actor, reason);
      return {
        kind: 'change',
        outcome: 'failed',
        change: { from: 'init', to: 'failed', set: { provider }, logs: [...start.logs, ...failure.logs] },
        events: (after) => [paymentEvents.processing(after, origin), paymentEvents.failed(after, reason, actor, provider, origin)],
      };
    }
    return {
      kind: 'change',
      outcome: 'failed',
      change: { ...move(payment, 'failed', 'failed', actor, reason), set: { provider } },
      events: (after) => [paymentEvents.failed(after, reason, actor, provider, origin)],
    };
  });
}

/** init/processing → cancelled (by the customer, an admin, or because the order was cancelled). */
export function cancelPayment(store: PaymentStore, paymentId: string, reason: string, actor: string, origin: EventOrigin) {
  return updatePayment(store, paymentId, (payment) => ({
    kind: 'change',
    outcome: 'cancelled',
    change: move(payment, 'cancelled', 'cancelled', actor, reason),
    events: (after) => [paymentEvents.cancelled(after, reason, actor, origin)],
  }));
}

/** init/processing → expired (sweeper or admin). */
export function expirePayment(store: PaymentStore, paymentId: string, actor: string, origin: EventOrigin) {
  return updatePayment(store, paymentId, (payment) => ({
    kind: 'change',
    outcome: 'expired',
    change: move(payment, 'expired', 'expired', actor),
    events: (after) => [paymentEvents.expired(after, actor, origin)],
  }));
}
