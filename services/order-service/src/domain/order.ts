import { randomBytes, randomUUID } from 'node:crypto';
import { BadInput } from '@pay/errors';
import { MAX_AMOUNT_MINOR, formatMinorAmount } from '@pay/money';
import { ORDER_STATUS_VALUES } from '@pay/contracts';
import { defineStateMachine } from '@pay/state-machine';

/** The order state machine of the design: the one table every move goes through. */
export const ORDER_STATUSES = ORDER_STATUS_VALUES; // the contract's list: one literal for API and domain
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const orderStateMachine = defineStateMachine<OrderStatus>('order', {
  pending_payment: ['paid', 'cancelled'],
  paid: ['shipped', 'refunded', 'partially_refunded'],
  shipped: ['completed'],
  completed: [],
  cancelled: [],
  refunded: [],
  partially_refunded: [],
});

export interface OrderItem {
  productId: string;
  name: string;
  unitPriceMinor: number;
  quantity: number;
}

export interface OrderHistoryEntry {
  at: Date;
  from: OrderStatus | null;
  to: OrderStatus;
  actor: string;
  detail: string | null;
}

export interface Order {
  id: string;
  orderNumber: string;
  userId: string;
  items: OrderItem[];
  totalAmountMinor: number;
  currency: string;
  status: OrderStatus;
  paymentId: string | null;
  createdAt: Date;
  updatedAt: Date;
  history: OrderHistoryEntry[];
}

/**
 * Each price and quantity can be valid while their sum is not: the total must still be an amount the
 * system can hold and show (`MAX_AMOUNT_MINOR`). Bad input (400), not a server fault.
 */
export class OrderTotalTooLarge extends BadInput {
  constructor() {
    super(`order total exceeds the maximum of ${formatMinorAmount(MAX_AMOUNT_MINOR)}`, { max_total_amount: formatMinorAmount(MAX_AMOUNT_MINOR) });
  }
}

/** The total is computed here from the items, in integer minor units; a client never sends it. */
export function totalOf(items: OrderItem[]): number {
  const total = items.reduce((sum, item) => sum + item.unitPriceMinor * item.quantity, 0);
  if (!Number.isSafeInteger(total) || total > MAX_AMOUNT_MINOR) throw new OrderTotalTooLarge();
  return total;
}

const NUMBER_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ'; // no 0/O/1/I: read aloud and typed by people

/** Human-readable and unique in practice (the unique index settles the rest): ORD-20261125-7K3M9QX2. */
export function newOrderNumber(now = new Date()): string {
  const day = now.toISOString().slice(0, 10).replace(/-/g, '');
  const bytes = randomBytes(8);
  const suffix = Array.from(bytes, (byte) => NUMBER_ALPHABET[byte % NUMBER_ALPHABET.length]).join('');
  return `ORD-${day}-${suffix}`;
}

export function newOrder(userId: string, items: OrderItem[], currency: string, now = new Date()): Order {
  return {
    id: randomUUID(),
    orderNumber: newOrderNumber(now),
    userId,
    items,
    totalAmountMinor: totalOf(items),
    currency,
    status: 'pending_payment',
    paymentId: null,
    createdAt: now,
    updatedAt: now,
    history: [{ at: now, from: null, to: 'pending_payment', actor: `customer:${userId}`, detail: null }],
  };
}

export interface OrderChange {
  from: OrderStatus;
  to: OrderStatus;
  paymentId?: string;
  entry: OrderHistoryEntry;
}

export function moveOrder(order: Order, to: OrderStatus, actor: string, detail: string | null = null): OrderChange {
  orderStateMachine.assertTransition(order.status, to);
  return { from: order.status, to, entry: { at: new Date(), from: order.status, to, actor, detail } };
}
