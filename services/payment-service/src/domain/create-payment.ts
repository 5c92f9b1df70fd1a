import { randomUUID } from 'node:crypto';
import type { EventOrigin, Identity } from '@pay/contracts';
import { waitForRecord } from '@pay/arrivals';
import { AmountMismatch, BusinessRuleViolation, NotFound } from '@pay/errors';
import { changePayment } from './change-payment';
import type { KnownOrder, KnownOrders } from './known-orders';
import { OPEN_STATUSES, PaymentAggregate, type Payment, type PaymentMethod } from './payment';
import type { PaymentStore } from './payment-store';

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

/**
 * The original `create_for_order`: the order exists, is pending payment and belongs to the caller; the
 * amount is the order total; expires_at = now + TTL; an initial log entry; `payment.created`. The unique
 * live-payment index refuses a second live payment for the order (409).
 */
export async function createPaymentForOrder(
  store: PaymentStore,
  orders: KnownOrders,
  input: CreatePaymentInput,
  settings: CreatePaymentSettings,
  origin: EventOrigin,
): Promise<Payment> {
  // The customer may pay the moment the order service answered, before its order.created reached us.
  const order = await waitForRecord(
    () => orders.get(input.orderId),
    (maxMs, signal) => orders.nextRecorded(input.orderId, maxMs, signal),
    settings.orderWaitMs,
  );
  if (!order || (input.identity.role !== 'admin' && order.userId !== input.identity.sub)) {
    throw new NotFound(`order ${input.orderId} not found`);
  }
  if (order.status !== 'pending_payment') throw notPayable(order);
  if (input.amountMinor !== undefined && input.amountMinor !== order.amountMinor) {
    throw new AmountMismatch(order.amountMinor, input.amountMinor);
  }
  const payment = PaymentAggregate.open({
    id: randomUUID(),
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
