import type { EventOrigin } from '@pay/contracts';
import type { Logger } from '@pay/logger';
import { isExpiredAt, isTerminal, logEntry, move, type Payment } from './payment';
import { paymentEvents } from './payment-events';
import type { PaymentStore } from './payment-store';
import { updatePayment, type Decision } from './update-payment';

export interface SuccessReport {
  paymentId: string;
  transactionId: string | null;
  provider: Payment['provider'];
  /** Set when a provider notification proved it (emits payment.verified). */
  notificationId?: string;
  actor: string;
  origin: EventOrigin;
}

export type SuccessOutcome = 'succeeded' | 'already_succeeded' | 'late_success';

/**
 * The original `process_payment_success`, in its order:
 * lock the payment → already succeeded? warn, same answer → expired (or otherwise closed)? it stays so,
 * but the money is never ignored: flag `late_success` and emit `payment.late_success` → otherwise mark
 * succeeded, keep the transaction id, append the log, emit `payment.succeeded` (the order becomes paid
 * through that event).
 */
export function processPaymentSuccess(store: PaymentStore, report: SuccessReport, logger: Logger, now = new Date()) {
  return updatePayment<SuccessOutcome>(store, report.paymentId, (payment) => {
    if (payment.status === 'succeeded') {
      logger.warn('payment already succeeded; success report ignored', { payment_id: payment.id, transaction_id: report.transactionId });
      return { kind: 'none', outcome: 'already_succeeded' };
    }
    if (isTerminal(payment.status) || isExpiredAt(payment, now)) return lateSuccess(payment, report, logger);
    return markSucceeded(payment, report);
  });
}

function markSucceeded(payment: Payment, report: SuccessReport): Decision<SuccessOutcome> {
  // A provider may confirm a payment whose start we never recorded: record the implied start too.
  const start = payment.status === 'init' ? move(payment, 'processing', 'started', report.actor, 'implied by provider success') : null;
  const from = start ? { ...payment, status: start.to } : payment;
  const success = move(from, 'succeeded', 'succeeded', report.actor, report.transactionId ? `transaction ${report.transactionId}` : null);
  return {
    kind: 'change',
    outcome: 'succeeded',
    change: {
      from: payment.status,
      to: 'succeeded',
      set: { transactionId: report.transactionId, provider: report.provider },
      logs: [...(start?.logs ?? []), ...success.logs],
    },
    events: (after) => [
      ...(start ? [paymentEvents.processing(after, report.origin)] : []),
      ...(report.notificationId && report.provider && report.transactionId
        ? [paymentEvents.verified(after, report.provider, report.notificationId, report.transactionId, report.origin)]
        : []),
      paymentEvents.succeeded(after, report.actor, report.origin),
    ],
  };
}

function lateSuccess(payment: Payment, report: SuccessReport, logger: Logger): Decision<SuccessOutcome> {
  if (payment.lateSuccess) return { kind: 'none', outcome: 'late_success' }; // already flagged: no second event
  // Still open but past its deadline: it expires now, and the success is late.
  const expiry = isTerminal(payment.status) ? null : move(payment, 'expired', 'expired', 'system:deadline', 'expired before the success arrived');
  const status = expiry ? expiry.to : payment.status;
  logger.error('provider reports success for a closed payment; flagged late_success for refund', {
    payment_id: payment.id,
    status,
    transaction_id: report.transactionId,
  });
  return {
    kind: 'change',
    outcome: 'late_success',
    change: {
      from: payment.status,
      to: status,
      set: { lateSuccess: true, transactionId: report.transactionId, provider: report.provider },
      logs: [...(expiry?.logs ?? []), logEntry('late_success', status, status, report.actor, `provider took the money after the payment was ${status}`)],
    },
    events: (after) => [...(expiry ? [paymentEvents.expired(after, 'system:deadline', report.origin)] : []), paymentEvents.lateSuccess(after, report.transactionId, report.provider, report.origin)],
  };
}
