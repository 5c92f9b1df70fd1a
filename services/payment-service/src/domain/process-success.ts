import type { Identity } from '@pay/contracts';
import type { Logger } from '@pay/logger';
import { changePayment } from './change-payment';
import type { Payment, SuccessOutcome, SuccessReport } from './payment';
import type { PaymentStore } from './payment-store';

/**
 * The original `process_payment_success`: the decision is `PaymentAggregate.succeed`; this use case
 * runs it as one guarded change and says in the log what happened.
 */
export async function processPaymentSuccess(store: PaymentStore, paymentId: string, report: SuccessReport, logger: Logger, viewer?: Identity) {
  const result = await changePayment<SuccessOutcome>(store, paymentId, (payment) => payment.succeed(report), viewer);
  logSuccessOutcome(logger, result.payment, result.outcome, report);
  return result;
}

/** A repeated success is a warning; money taken for a closed payment is an error someone must act on. */
export function logSuccessOutcome(logger: Logger, payment: Payment, outcome: SuccessOutcome, report: Pick<SuccessReport, 'transactionId'>): void {
  if (outcome === 'already_succeeded') {
    logger.warn('payment already succeeded; success report ignored', { payment_id: payment.id, transaction_id: report.transactionId });
  } else if (outcome === 'duplicate_paid') {
    logger.error('payment paid again under another transaction; flagged as a duplicate payment for refund', {
      payment_id: payment.id,
      transaction_id: report.transactionId,
      first_transaction_id: payment.transactionId,
    });
  } else if (outcome === 'late_success') {
    logger.error('provider reports success for a closed payment; flagged late_success for refund', {
      payment_id: payment.id,
      status: payment.status,
      transaction_id: report.transactionId,
    });
  }
}
