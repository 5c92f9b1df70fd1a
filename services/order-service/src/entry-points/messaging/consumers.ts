import type { AnyEvent } from '@pay/contracts';
import type { Logger } from '@pay/logger';
import type { OrderStore } from '../../domain/order-store';
import { markOrderPaid } from '../../domain/order-use-cases';

export function orderEventHandler(store: OrderStore, logger: Logger) {
  return async (event: AnyEvent): Promise<void> => {
    if (event.type !== 'payment.succeeded') {
      logger.warn('event type not handled here', { type: event.type });
      return;
    }
    const outcome = await markOrderPaid(store, event, logger);
    logger.info('payment.succeeded applied', { order_id: event.data.orderId, payment_id: event.data.paymentId, outcome });
  };
}
