import { causedBy, type EventEnvelope } from '@pay/contracts';
import type { Logger } from '@pay/logger';
import { failPayment } from './payment-moves';
import type { PaymentStore } from './payment-store';
import { processPaymentSuccess } from './process-success';

const PRODUCER = 'payment-service';

/**
 * A verified provider notification (from the callback gateway): success → the success flow, failure →
 * the failure flow. The amount must match ours exactly; a mismatch changes nothing and is logged.
 */
export async function applyVerifiedCallback(store: PaymentStore, event: EventEnvelope<'callback.verified'>, logger: Logger): Promise<string> {
  const notice = event.data;
  const payment = await store.get(notice.paymentId);
  if (!payment) {
    logger.error('verified callback for an unknown payment', { payment_id: notice.paymentId, provider: notice.provider });
    return 'unknown_payment';
  }
  const actor = `provider:${notice.provider}`;
  if (notice.amountMinor !== payment.amountMinor) {
    logger.error('callback amount differs from the payment; not applied', { payment_id: payment.id, expected: payment.amountMinor, got: notice.amountMinor });
    await store.exclusive(payment.id, () => store.appendLog(payment.id, {
      at: new Date(),
      event: 'amount_mismatch',
      from: payment.status,
      to: payment.status,
      actor,
      detail: `provider reported ${notice.amountMinor}, expected ${payment.amountMinor}`,
    }));
    return 'amount_mismatch';
  }
  const origin = causedBy(event, PRODUCER);
  if (notice.outcome === 'success') {
    const result = await processPaymentSuccess(
      store,
      { paymentId: payment.id, transactionId: notice.transactionId, provider: notice.provider, notificationId: notice.notificationId, actor, origin },
      logger,
    );
    return result.outcome;
  }
  const result = await failPayment(store, payment.id, 'provider reported failure', actor, notice.provider, origin);
  return result.outcome;
}
