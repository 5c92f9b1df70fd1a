import type { AnyEvent } from '@pay/contracts';
import type { Logger } from '@pay/logger';
import { applyVerifiedCallback } from '../../domain/apply-callback';
import { cancelPaymentsOfOrder } from '../../domain/cancel-for-order';
import type { KnownOrders } from '../../domain/known-orders';
import type { PaymentStore } from '../../domain/payment-store';

/** Thin: the broker already validated the envelope and data; route by type to a use case. */
export function paymentEventHandler(store: PaymentStore, orders: KnownOrders, logger: Logger) {
  return async (event: AnyEvent): Promise<void> => {
    switch (event.type) {
      case 'order.created':
        await orders.recordCreated({
          id: event.data.orderId,
          orderNumber: event.data.orderNumber,
          userId: event.data.userId,
          amountMinor: event.data.amountMinor,
          currency: event.data.currency,
        });
        return;
      case 'order.cancelled': {
        const cancelled = await cancelPaymentsOfOrder(store, orders, event);
        logger.info('order cancelled; open payments cancelled', { order_id: event.data.orderId, cancelled });
        return;
      }
      case 'callback.verified': {
        const outcome = await applyVerifiedCallback(store, event, logger);
        logger.info('verified callback applied', { payment_id: event.data.paymentId, provider: event.data.provider, outcome });
        return;
      }
      default:
        logger.warn('event type not handled here', { type: event.type });
    }
  };
}
