import { causedBy, providerForMethod, type EventData, type EventEnvelope, type EventOrigin } from '@pay/contracts';
import { NotFound } from '@pay/errors';
import type { Logger } from '@pay/logger';
import { changePayment } from './change-payment';
import type { FailureOutcome, PaymentAggregate, SuccessOutcome } from './payment';
import type { PaymentStore } from './payment-store';
import { logSuccessOutcome } from './process-success';

const PRODUCER = 'payment-service';

export type CallbackOutcome = SuccessOutcome | FailureOutcome | 'amount_mismatch' | 'provider_mismatch' | 'unknown_payment' | 'refund_settled' | 'refund_unchanged' | 'unknown_refund';

/**
 * A verified provider notification (from the callback gateway), decided on one read of the payment:
 * an amount other than ours exactly → nothing moves, the payment's log says so; success → the success
 * flow (`succeed`); failure → the failure flow (`fail`).
 */
/** A refund notification (WeChat REFUND.*): settles the refund it names, if its amount is the refund's. */
function decideRefundNotice(payment: PaymentAggregate, notice: NonNullable<EventData<'callback.verified'>['refund']>, actor: string, origin: EventOrigin): CallbackOutcome {
  const refund = payment.state.refunds.find((candidate) => candidate.id === notice.refundId);
  if (!refund) return 'unknown_refund';
  if (refund.amountMinor !== notice.refundMinor) {
    payment.noteAmountMismatch(notice.refundMinor, actor);
    return 'amount_mismatch';
  }
  const moved = payment.settleRefund(refund.id, { status: notice.status, providerRefundId: notice.providerRefundId, detail: `refund notification: ${notice.status}` }, actor, origin);
  return moved ? 'refund_settled' : 'refund_unchanged';
}

export async function applyVerifiedCallback(store: PaymentStore, event: EventEnvelope<'callback.verified'>, logger: Logger): Promise<CallbackOutcome> {
  const notice = event.data;
  const actor = `provider:${notice.provider}`;
  const origin = causedBy(event, PRODUCER);
  const report = { transactionId: notice.transactionId, provider: notice.provider, notificationId: notice.notificationId, actor, origin };
  try {
    const { payment, outcome } = await changePayment<CallbackOutcome>(store, notice.paymentId, (payment) => {
      // The callback gateway refuses these already; a notification from another provider never moves a payment.
      const expected = providerForMethod(payment.state.method);
      if (notice.provider !== expected) {
        payment.noteProviderMismatch(notice.provider, expected, actor);
        return 'provider_mismatch';
      }
      if (notice.refund) return decideRefundNotice(payment, notice.refund, actor, origin);
      if (notice.amountMinor !== payment.state.amountMinor) {
        payment.noteAmountMismatch(notice.amountMinor, actor);
        return 'amount_mismatch';
      }
      return notice.outcome === 'success' ? payment.succeed(report) : payment.fail('provider reported failure', actor, notice.provider, origin);
    });
    if (outcome === 'unknown_refund') {
      logger.error('refund notification for a refund we do not know; not applied', { payment_id: payment.id, refund_id: notice.refund?.refundId });
    } else if (outcome === 'provider_mismatch') {
      logger.error('callback from another provider than the payment method; not applied', { payment_id: payment.id, method: payment.method, provider: notice.provider });
    } else if (outcome === 'amount_mismatch') {
      logger.error('callback amount differs from the payment; not applied', { payment_id: payment.id, expected: payment.amountMinor, got: notice.amountMinor });
    } else if (outcome === 'succeeded' || outcome === 'already_succeeded' || outcome === 'late_success' || outcome === 'duplicate_paid') {
      logSuccessOutcome(logger, payment, outcome, report);
    }
    return outcome;
  } catch (error) {
    if (!(error instanceof NotFound)) throw error;
    logger.error('verified callback for an unknown payment', { payment_id: notice.paymentId, provider: notice.provider });
    return 'unknown_payment';
  }
}
