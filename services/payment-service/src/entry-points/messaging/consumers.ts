import type { Logger } from '@pay/logger';
import type { EventHandlers } from '@pay/messaging';
import { applyVerifiedCallback } from '../../domain/apply-callback';
import { cancelPaymentsOfOrder } from '../../domain/cancel-for-order';
import type { KnownOrders } from '../../domain/known-orders';
import type { ProviderCalls } from '../../domain/pay-at-provider';
import type { paymentServiceEvents } from '../../events';

/** Thin: the broker validated the event and routes it by type; each handler calls its use case. */
export function paymentEventHandlers(calls: ProviderCalls, orders: KnownOrders, logger: Logger): EventHandlers<typeof paymentServiceEvents> {
  return {
    'order.created': async (event) => {
      await orders.recordCreated({
        id: event.data.orderId,
        orderNumber: event.data.orderNumber,
        userId: event.data.userId,
        amountMinor: event.data.amountMinor,
        currency: event.data.currency,
      });
    },
    'order.cancelled': async (event) => {
      const cancelled = await cancelPaymentsOfOrder(calls, orders, event);
      logger.info('order cancelled; open payments cancelled', { order_id: event.data.orderId, cancelled });
    },
    'callback.verified': async (event) => {
      const outcome = await applyVerifiedCallback(calls.store, event, logger);
      logger.info('verified callback applied', { payment_id: event.data.paymentId, provider: event.data.provider, outcome });
    },
  };
}
