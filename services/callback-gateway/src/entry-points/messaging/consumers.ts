import type { AnyEvent } from '@pay/contracts';
import type { Logger } from '@pay/logger';
import type { KnownPayments } from '../../domain/known-payments';

/**
 * Thin: the broker already validated the envelope and data. No inbox: the only effect is an
 * insert-once keyed by the payment id, so a redelivered event is a no-op by itself.
 */
export function callbackGatewayEventHandler(payments: KnownPayments, logger: Logger) {
  return async (event: AnyEvent): Promise<void> => {
    switch (event.type) {
      case 'payment.created':
        await payments.recordCreated({ id: event.data.paymentId, amountMinor: event.data.amountMinor, currency: event.data.currency });
        return;
      default:
        logger.warn('event type not handled here', { type: event.type });
    }
  };
}
