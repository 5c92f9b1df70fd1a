import { randomUUID } from 'node:crypto';
import type { EventOrigin, Identity } from '@pay/contracts';
import { waitForRecord } from '@pay/arrivals';
import { AmountMismatch, BusinessRuleViolation, NotFound, Unavailable } from '@pay/errors';
import { changePayment } from './change-payment';
import type { KnownOrder, KnownOrders } from './known-orders';
import { VIEW_CAUGHT_UP, type OrderViewLag } from './order-view-lag';
import { OPEN_STATUSES, PaymentAggregate, type Payment, type PaymentMethod } from './payment';
import type { PaymentStore } from './payment-store';

/**
 * A payment's id is also its out_trade_no at the provider: WeChat Pay takes 6-32 characters of
 * [0-9A-Za-z_-|*], so a UUID's 32 hex digits without hyphens (as random as the UUID).
 */
export function newPaymentId(): string {
  return randomUUID().replace(/-/g, '');
}

export interface CreatePaymentInput {
  identity: Identity;
  orderId: string;
  method: PaymentMethod;
  /** What the client believes it pays; must equal the order total exactly when given. */
  amountMinor?: number;
}

export interface CreatePaymentSettings {
  ttlMinutes: number;
  /** How long to wait for an order we have not heard of yet (its order.created may be in flight). */
  orderWaitMs: number;
}

/** What a client is told to wait before asking again for an order our view has not caught up with. */
export const ORDER_NOT_YET_KNOWN_RETRY_AFTER_S = 1;

/**
 * The original `create_for_order`: the order exists, is pending payment and belongs to the caller; the
 * amount is the order total; expires_at = now + TTL; an initial log entry; `payment.created`. The unique
 * live-payment index refuses a second live payment for the order (409). An order our view does not
 * know is "not found" (404) only when the view has caught up (`lag`); while it lags, "not known yet"
 * (503 with a retry delay): an order that exists is never answered 404.
 */
export async function createPaymentForOrder(
  store: PaymentStore,
  orders: KnownOrders,
  input: CreatePaymentInput,
  settings: CreatePaymentSettings,
  origin: EventOrigin,
  lag: OrderViewLag = VIEW_CAUGHT_UP,
): Promise<Payment> {
  const order = await knownOrder(orders, lag, input.orderId, settings.orderWaitMs);
  if (!order || (input.identity.role !== 'admin' && order.userId !== input.identity.sub)) {
    throw new NotFound(`order ${input.orderId} not found`);
  }
  if (order.status !== 'pending_payment') throw notPayable(order);
  if (input.amountMinor !== undefined && input.amountMinor !== order.amountMinor) {
    throw new AmountMismatch(order.amountMinor, input.amountMinor);
  }
  const payment = PaymentAggregate.open({
    id: newPaymentId(),
    order,
    method: input.method,
    actor: `${input.identity.role}:${input.identity.sub}`,
    ttlMinutes: settings.ttlMinutes,
    origin,
  });
  await store.insert(payment);
  await withdrawIfOrderCancelledMeanwhile(store, orders, payment.state, origin);
  return payment.state;
}

/**
 * The order as our view knows it, or null when it does not exist. The customer may pay the moment the
 * order service answered, before its order.created reached us: wait up to `waitMs` for it. Still
 * unknown then: ask whether the view lags FIRST and read once more AFTER, so an order.created recorded
 * between the two is read, and one still queued or in hand at the question makes the answer "behind".
 */
async function knownOrder(orders: KnownOrders, lag: OrderViewLag, orderId: string, waitMs: number): Promise<KnownOrder | null> {
  const waited = await waitForRecord(
    () => orders.get(orderId),
    (maxMs, signal) => orders.nextRecorded(orderId, maxMs, signal),
    waitMs,
  );
  if (waited) return waited;
  const behind = await lag.isBehind().catch(() => true); // cannot tell: never a false 404
  const order = await orders.get(orderId);
  if (order || !behind) return order;
  throw new Unavailable(
    `order ${orderId} is not known to the payment service yet (order events are still being processed); retry after the seconds in Retry-After`,
    { order_id: orderId },
    { code: 'order_not_yet_known', retryAfterSeconds: ORDER_NOT_YET_KNOWN_RETRY_AFTER_S },
  );
}

/**
 * An `order.cancelled` handled between our check of the order and our insert looked for open payments
 * before this one existed, so it did not cancel it. The consumer records the cancellation BEFORE it looks
 * for open payments, and we look at the order again AFTER inserting: one of the two always sees the
 * other, so no live payment outlives a cancelled order (on MongoDB replicas too, no lock needed).
 */
async function withdrawIfOrderCancelledMeanwhile(store: PaymentStore, orders: KnownOrders, payment: Payment, origin: EventOrigin): Promise<void> {
  const order = await orders.get(payment.orderId);
  if (order?.status !== 'cancelled') return;
  await changePayment(store, payment.id, (stored) => {
    if (OPEN_STATUSES.includes(stored.status)) stored.cancel('order cancelled', 'system:order-cancelled', origin); // unless the consumer did
  });
  throw notPayable(order);
}

function notPayable(order: KnownOrder): BusinessRuleViolation {
  return new BusinessRuleViolation(`order is ${order.status}, not pending_payment`, { order_status: order.status }, 'order_not_payable');
}
