import { causedBy, type EventEnvelope } from '@pay/contracts';
import { IllegalTransition } from '@pay/errors';
import type { KnownOrders } from './known-orders';
import { cancelPayment } from './payment-moves';
import type { PaymentStore } from './payment-store';

/** `order.cancelled` cancels the order's open payment (and the order can no longer be paid). */
export async function cancelPaymentsOfOrder(store: PaymentStore, orders: KnownOrders, event: EventEnvelope<'order.cancelled'>): Promise<number> {
  // Record first, look second: a create racing with us re-reads the order after its insert (see
  // create-payment.ts), so between the two of us the racing payment is always found.
  await orders.recordCancelled(event.data.orderId);
  let cancelled = 0;
  for (const payment of await store.openForOrder(event.data.orderId)) {
    try {
      await cancelPayment(store, payment.id, 'order cancelled', 'system:order-cancelled', causedBy(event, 'payment-service'));
      cancelled++;
    } catch (error) {
      if (!(error instanceof IllegalTransition)) throw error;
    }
  }
  return cancelled;
}
