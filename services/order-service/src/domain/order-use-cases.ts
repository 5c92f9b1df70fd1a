import { causedBy, createEvent, type EventEnvelope, type EventOrigin, type Identity } from '@pay/contracts';
import { createHash } from 'node:crypto';
import { BusinessRuleViolation, Conflict, NotFound } from '@pay/errors';
import type { Logger } from '@pay/logger';
import { moveOrder, newOrder, type Order, type OrderItem } from './order';
import type { OrderStore } from './order-store';

const PRODUCER = 'order-service';

function orderRef(order: Order) {
  return { orderId: order.id, orderNumber: order.orderNumber, userId: order.userId, amountMinor: order.totalAmountMinor, currency: order.currency };
}

export async function placeOrder(store: OrderStore, userId: string, items: OrderItem[], currency: string, origin: EventOrigin): Promise<Order> {
  return (await placeOrderOnce(store, userId, items, currency, origin, null)).order;
}

/** What makes two requests "the same order": the items and the currency, exactly. */
export function orderFingerprint(items: OrderItem[], currency: string): string {
  return createHash('sha256').update(JSON.stringify({ items, currency })).digest('hex');
}

/**
 * Places an order at most once per client-chosen key (the `Idempotency-Key` header): a retried request
 * (a timeout, a double tap) gets the order the first one made, never a second order. The key is scoped
 * to the customer and enforced by a unique index, so concurrent retries race safely. The same key with
 * different items is refused (422), not silently answered with the other order.
 */
export async function placeOrderOnce(
  store: OrderStore,
  userId: string,
  items: OrderItem[],
  currency: string,
  origin: EventOrigin,
  idempotencyKey: string | null,
): Promise<{ order: Order; replayed: boolean }> {
  const request = idempotencyKey ? { key: `${userId}:${idempotencyKey}`, fingerprint: orderFingerprint(items, currency) } : null;
  for (let attempt = 0; ; attempt++) {
    const order = newOrder(userId, items, currency);
    try {
      await store.insert(order, [createEvent('order.created', orderRef(order), origin)], request);
      return { order, replayed: false };
    } catch (error) {
      if (!(error instanceof DuplicateOrder)) throw error;
      if (request) {
        const earlier = await store.findByIdempotencyKey(request.key);
        if (earlier) {
          if (earlier.fingerprint !== request.fingerprint) {
            throw new BusinessRuleViolation('this Idempotency-Key was used for a different order', undefined, 'idempotency_key_reused');
          }
          return { order: earlier.order, replayed: true };
        }
      }
      // Otherwise an order number collision (astronomically rare): draw another.
      if (attempt >= 3) throw error;
    }
  }
}

/** A unique index refused the insert (order number or idempotency key). */
export class DuplicateOrder extends Conflict {
  constructor() {
    super('order already exists', undefined, 'duplicate_order');
  }
}

/** Customers see only their own orders; another's is "not found". */
export async function visibleOrder(store: OrderStore, id: string, identity: Identity): Promise<Order> {
  const order = await store.get(id);
  if (!order || (identity.role === 'customer' && order.userId !== identity.sub)) throw new NotFound(`order ${id} not found`);
  return order;
}

/** pending_payment → cancelled (owner or admin); emits order.cancelled, which cancels its open payment. */
export function cancelOrder(store: OrderStore, orderId: string, identity: Identity, reason: string, origin: EventOrigin): Promise<Order> {
  return store.exclusive(orderId, async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const order = await visibleOrder(store, orderId, identity);
      const change = moveOrder(order, 'cancelled', `${identity.role}:${identity.sub}`, reason);
      const stored = await store.apply(order, change, (after) => [createEvent('order.cancelled', { ...orderRef(after), reason }, origin)]);
      if (stored) return stored;
    }
    throw new Conflict(`order ${orderId} is changing concurrently; retry`);
  });
}

export type PaidOutcome = 'paid' | 'already_paid' | 'not_payable' | 'unknown_order';

/**
 * payment.succeeded → the order becomes paid (emits order.paid). Idempotent: a duplicate or replayed
 * event finds it already paid. Money taken for an order that can no longer be paid (cancelled) is
 * not silently dropped: it is logged as an error and shows in the reconciliation report.
 */
export function markOrderPaid(store: OrderStore, event: EventEnvelope<'payment.succeeded'>, logger: Logger): Promise<PaidOutcome> {
  return store.exclusive(event.data.orderId, () => markPaidOnce(store, event, logger));
}

async function markPaidOnce(store: OrderStore, event: EventEnvelope<'payment.succeeded'>, logger: Logger): Promise<PaidOutcome> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const order = await store.get(event.data.orderId);
    if (!order) {
      logger.error('payment succeeded for an unknown order', { order_id: event.data.orderId, payment_id: event.data.paymentId });
      return 'unknown_order';
    }
    if (order.status !== 'pending_payment') {
      const already = order.paymentId === event.data.paymentId;
      if (already) return 'already_paid';
      logger.error('payment succeeded but the order cannot become paid; needs a refund', {
        order_id: order.id,
        order_status: order.status,
        payment_id: event.data.paymentId,
      });
      return 'not_payable';
    }
    if (event.data.amountMinor !== order.totalAmountMinor) {
      logger.error('payment amount differs from the order total; order not marked paid', { order_id: order.id, payment_id: event.data.paymentId });
      return 'not_payable';
    }
    const change = { ...moveOrder(order, 'paid', `payment:${event.data.paymentId}`, event.data.transactionId), paymentId: event.data.paymentId };
    const stored = await store.apply(order, change, (after) => [
      createEvent(
        'order.paid',
        { ...orderRef(after), paymentId: event.data.paymentId, transactionId: event.data.transactionId },
        causedBy(event, PRODUCER),
      ),
    ]);
    if (stored) return 'paid';
  }
  throw new Conflict(`order ${event.data.orderId} kept changing; will retry`);
}
