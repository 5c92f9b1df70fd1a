import { causedBy, type EventEnvelope } from '@pay/contracts';
import { changePayment } from './change-payment';
import type { KnownOrders } from './known-orders';
import { OPEN_STATUSES } from './payment';
import type { PaymentStore } from './payment-store';

/** `order.cancelled` cancels the order's open payment (and the order can no longer be paid). */
export async function cancelPaymentsOfOrder(store: PaymentStore, orders: KnownOrders, event: EventEnvelope<'order.cancelled'>): Promise<number> {
  // Record first, look second: a create racing with us re-reads the order after its insert (see
  // create-payment.ts), so between the two of us the racing payment is always found.
  await orders.recordCancelled(event.data.orderId);
  const origin = causedBy(event, 'payment-service');
  let cancelled = 0;
  for (const found of await store.openForOrder(event.data.orderId)) {
    const { outcome } = await changePayment(store, found.id, (payment) => {
      // It may have moved on since the query (succeeded, expired): then there is nothing to cancel.
      if (!OPEN_STATUSES.includes(payment.status)) return false;
      payment.cancel('order cancelled', 'system:order-cancelled', origin);
      return true;
    });
    if (outcome) cancelled++;
  }
  return cancelled;
}
