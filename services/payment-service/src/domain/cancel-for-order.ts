import { causedBy, type EventEnvelope } from '@pay/contracts';
import type { KnownOrders } from './known-orders';
import { cancelAtProvider, type ProviderCalls } from './pay-at-provider';

/** `order.cancelled` cancels the order's open payment (closed at its provider first), and the order can no longer be paid. */
export async function cancelPaymentsOfOrder(calls: ProviderCalls, orders: KnownOrders, event: EventEnvelope<'order.cancelled'>): Promise<number> {
  // Record first, look second: a create racing with us re-reads the order after its insert (see
  // create-payment.ts), so between the two of us the racing payment is always found.
  await orders.recordCancelled(event.data.orderId);
  const origin = causedBy(event, 'payment-service');
  let cancelled = 0;
  for (const found of await calls.store.openForOrder(event.data.orderId)) {
    const { outcome } = await cancelAtProvider(calls, found.id, 'order cancelled', 'system:order-cancelled', origin, { ifOpen: true });
    if (outcome) cancelled++;
  }
  return cancelled;
}
