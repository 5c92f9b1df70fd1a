import { randomUUID } from 'node:crypto';
import type { EventOrigin, Identity } from '@pay/contracts';
import { AmountMismatch, BusinessRuleViolation, NotFound } from '@pay/errors';
import type { KnownOrder, KnownOrders } from './known-orders';
import { logEntry, type Payment, type PaymentMethod } from './payment';
import { paymentEvents } from './payment-events';
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
  const order = await waitForOrder(orders, input.orderId, settings.orderWaitMs);
  if (!order || (input.identity.role !== 'admin' && order.userId !== input.identity.sub)) {
    throw new NotFound(`order ${input.orderId} not found`);
  }
  if (order.status !== 'pending_payment') {
    throw new BusinessRuleViolation(`order is ${order.status}, not pending_payment`, { order_status: order.status }, 'order_not_payable');
  }
  if (input.amountMinor !== undefined && input.amountMinor !== order.amountMinor) {
    throw new AmountMismatch(order.amountMinor, input.amountMinor);
  }
  const now = new Date();
  const actor = `${input.identity.role}:${input.identity.sub}`;
  const payment: Payment = {
    id: randomUUID(),
    orderId: order.id,
    userId: order.userId,
    amountMinor: order.amountMinor,
    currency: order.currency,
    method: input.method,
    status: 'init',
    transactionId: null,
    provider: null,
    lateSuccess: false,
    expiresAt: new Date(now.getTime() + settings.ttlMinutes * 60_000),
    createdAt: now,
    updatedAt: now,
    logs: [logEntry('created', null, 'init', actor, `amount ${order.amountMinor} ${order.currency} via ${input.method}`, now)],
  };
  await store.insert(payment, [paymentEvents.created(payment, origin)]);
  return payment;
}

async function waitForOrder(orders: KnownOrders, orderId: string, waitMs: number): Promise<KnownOrder | null> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const order = await orders.get(orderId);
    if (order || Date.now() >= deadline) return order;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
