import type { Logger } from '@pay/logger';
import type { EventHandlers } from '@pay/messaging';
import { keepAuditAnchor, type AuditAnchorStore } from '../../domain/audit-anchors';
import type { OrderStore } from '../../domain/order-store';
import { markOrderPaid, recordOrderRefund } from '../../domain/order-use-cases';
import type { orderServiceEvents } from '../../events';

/** Thin: the broker validated the event and routes it by type; each handler calls its use case. */
export function orderEventHandlers(store: OrderStore, logger: Logger, anchors: AuditAnchorStore): EventHandlers<typeof orderServiceEvents> {
  return {
    'payment.succeeded': async (event) => {
      const outcome = await markOrderPaid(store, event, logger);
      logger.info('payment.succeeded applied', { order_id: event.data.orderId, payment_id: event.data.paymentId, outcome });
    },
    'payment.refunded': async (event) => {
      const outcome = await recordOrderRefund(store, event, logger);
      logger.info('payment.refunded applied', { order_id: event.data.orderId, payment_id: event.data.paymentId, refund_id: event.data.refundId, outcome });
    },
    'audit.checkpoint': async (event) => {
      const kept = await keepAuditAnchor(anchors, event);
      logger.info(kept ? 'audit anchor kept' : 'audit anchor already kept', { seq: event.data.seq, event_id: event.id });
    },
  };
}
