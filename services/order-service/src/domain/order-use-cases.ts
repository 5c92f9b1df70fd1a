import { changeAggregate } from '@pay/aggregate';
import { causedBy, type EventEnvelope, type EventOrigin, type Identity } from '@pay/contracts';
import { createHash } from 'node:crypto';
import { BusinessRuleViolation, Conflict, NotFound, Unavailable } from '@pay/errors';
import type { Logger } from '@pay/logger';
import { OrderAggregate, type Order, type PaidOutcome, type RefundOutcome } from './order';
import type { OrderStore } from './order-store';
import { priceFromCatalog, type OrderRequest } from './pricing';
import type { PriceList } from './product-store';

const PRODUCER = 'order-service';

/** Where an order is placed: the orders, and the catalog its prices come from. */
export interface Shop {
  orders: OrderStore;
  catalog: PriceList;
}

export async function placeOrder(shop: Shop, userId: string, request: OrderRequest, origin: EventOrigin): Promise<Order> {
  return (await placeOrderOnce(shop, userId, request, origin, null)).order;
}

/**
 * What makes two requests "the same order": what the client sent (products, quantities, the prices and
 * currency it named), exactly. Not the priced result: a retry after a price change is still the same request.
 */
export function orderFingerprint(request: OrderRequest): string {
  return createHash('sha256').update(JSON.stringify(request)).digest('hex');
}

/**
 * Places an order at most once per client-chosen key (the `Idempotency-Key` header): a retried request
 * (a timeout, a double tap) gets the order the first one made, never a second order. The key is scoped
 * to the customer and enforced by a unique index, so concurrent retries race safely. The same key with
 * a different request is refused (422), not silently answered with the other order.
 *
 * Flow: an earlier order under the key? answer it (even if the catalog changed since) → price the
 * items from the catalog → insert (a concurrent retry that inserted first is answered the same way).
 */
export async function placeOrderOnce(
  shop: Shop,
  userId: string,
  request: OrderRequest,
  origin: EventOrigin,
  idempotencyKey: string | null,
): Promise<{ order: Order; replayed: boolean }> {
  // The key is scoped to the user as a pair (user, key), never as one joined string (`a` + `b:c` = `a:b` + `c`).
  const keyed = idempotencyKey ? { key: idempotencyKey, fingerprint: orderFingerprint(request) } : null;
  if (keyed) {
    const earlier = await answerEarlierOrder(shop.orders, userId, keyed);
    if (earlier) return earlier;
  }
  const products = await shop.catalog.findByIds([...new Set(request.items.map((item) => item.productId))]);
  const { items, currency } = priceFromCatalog(request, products);
  for (let attempt = 0; ; attempt++) {
    const order = OrderAggregate.place({ userId, items, currency, origin });
    try {
      await shop.orders.insert(order, keyed);
      return { order: order.state, replayed: false };
    } catch (error) {
      if (!(error instanceof DuplicateOrder)) throw error;
      const earlier = keyed ? await answerEarlierOrder(shop.orders, userId, keyed) : null;
      if (earlier) return earlier;
      // Otherwise an order number collision (astronomically rare): draw another.
      if (attempt >= 3) throw error;
    }
  }
}

/** The order placed earlier under this key, if any; refused when it was placed for a different request. */
async function answerEarlierOrder(store: OrderStore, userId: string, keyed: { key: string; fingerprint: string }) {
  const earlier = await store.findByIdempotencyKey(userId, keyed.key);
  if (!earlier) return null;
  if (earlier.fingerprint !== keyed.fingerprint) {
    throw new BusinessRuleViolation('this Idempotency-Key was used for a different order', undefined, 'idempotency_key_reused');
  }
  return { order: earlier.order, replayed: true };
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
  if (!order || !isVisibleTo(order, identity)) throw new NotFound(`order ${id} not found`);
  return order;
}

function isVisibleTo(order: Order, identity: Identity): boolean {
  return identity.role !== 'customer' || order.userId === identity.sub;
}

/**
 * Every change of an order: load, move, save guarded by the version it was loaded at; a lost race
 * (another request, consumer or replica wrote first) is decided again on the new state.
 */
function changeOrder<R>(store: OrderStore, id: string, act: (order: OrderAggregate) => R) {
  return changeAggregate(store, id, act, {
    notFound: () => new NotFound(`order ${id} not found`),
    contended: () => new Conflict(`order ${id} is changing concurrently; retry`, undefined, 'concurrent_change'),
  });
}

/** pending_payment → cancelled (owner or admin); emits order.cancelled, which cancels its open payment. */
export async function cancelOrder(store: OrderStore, orderId: string, identity: Identity, reason: string, origin: EventOrigin): Promise<Order> {
  const { aggregate } = await changeOrder(store, orderId, (order) => {
    if (!isVisibleTo(order.state, identity)) throw new NotFound(`order ${orderId} not found`);
    order.cancel(`${identity.role}:${identity.sub}`, reason, origin);
  });
  return aggregate.state;
}

export type PaidResult = PaidOutcome | 'unknown_order';

/**
 * payment.succeeded → the order becomes paid (emits order.paid) through `OrderAggregate.markPaid`.
 * Idempotent: a duplicate or replayed event, or the same event handled by two replicas at once, finds it
 * already paid. Money taken for an order that can no longer be paid is not silently dropped: it is
 * logged as an error and shows in the reconciliation report.
 */
export async function markOrderPaid(store: OrderStore, event: EventEnvelope<'payment.succeeded'>, logger: Logger): Promise<PaidResult> {
  const { orderId, paymentId } = event.data;
  const changed = await changeOrderOfEvent(store, event, (order) => order.markPaid(event.data, causedBy(event, PRODUCER)), logger);
  if (changed?.result === 'not_payable') {
    logger.error('payment succeeded but the order cannot become paid; needs a refund', {
      order_id: orderId,
      order_status: changed.aggregate.state.status,
      payment_id: paymentId,
      amount_minor: event.data.amountMinor,
      total_minor: changed.aggregate.state.totalAmountMinor,
    });
  }
  return changed?.result ?? 'unknown_order';
}

export type RefundResult = RefundOutcome | 'unknown_order';

/**
 * payment.refunded → the order becomes partially_refunded or refunded (emits order.refunded) through
 * `OrderAggregate.recordRefund`. Idempotent and order-independent: a redelivered or older refund total
 * changes nothing. A refund of a payment that did not pay the order (a late success, a duplicate
 * payment) leaves the order as it is: that money was never the order's.
 */
export async function recordOrderRefund(store: OrderStore, event: EventEnvelope<'payment.refunded'>, logger: Logger): Promise<RefundResult> {
  const changed = await changeOrderOfEvent(store, event, (order) => order.recordRefund(event.data, causedBy(event, PRODUCER)), logger);
  const facts = () => ({
    order_id: event.data.orderId,
    payment_id: event.data.paymentId,
    refund_id: event.data.refundId,
    order_status: changed?.aggregate.state.status,
    order_payment_id: changed?.aggregate.state.paymentId,
  });
  if (changed?.result === 'payment_not_yet_applied') {
    // Thrown, so the consumer retries it with back-off until the payment's success has been applied.
    throw new Unavailable(`order ${event.data.orderId} is not paid yet by payment ${event.data.paymentId}; its refund waits for payment.succeeded`);
  }
  if (changed?.result === 'other_payment') logger.info('refund of a payment that did not pay the order; the order is unchanged', facts());
  if (changed?.result === 'not_refundable') logger.warn('the paying payment was refunded but the order can no longer become refunded', facts());
  return changed?.result ?? 'unknown_order';
}

/** A change an event of a payment asks of its order; null (logged) when there is no such order. */
async function changeOrderOfEvent<R>(
  store: OrderStore,
  event: EventEnvelope<'payment.succeeded' | 'payment.refunded'>,
  act: (order: OrderAggregate) => R,
  logger: Logger,
): Promise<{ aggregate: OrderAggregate; result: R } | null> {
  try {
    return await changeOrder(store, event.data.orderId, act);
  } catch (error) {
    if (!(error instanceof NotFound)) throw error;
    logger.error(`${event.type} for an unknown order`, { order_id: event.data.orderId, payment_id: event.data.paymentId });
    return null;
  }
}
