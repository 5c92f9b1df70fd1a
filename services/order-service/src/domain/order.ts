import { randomBytes, randomUUID } from 'node:crypto';
import { AggregateRoot } from '@pay/aggregate';
import { createEvent, type EventOrigin } from '@pay/contracts';
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

export interface PlaceOrderInput {
  userId: string;
  items: OrderItem[];
  currency: string;
  origin: EventOrigin;
  now?: Date;
}

function orderRef(order: Order) {
  return { orderId: order.id, orderNumber: order.orderNumber, userId: order.userId, amountMinor: order.totalAmountMinor, currency: order.currency };
}

export type PaidOutcome = 'paid' | 'already_paid' | 'not_payable';

/**
 * The order aggregate: every move checks the table, appends to the history and records its event.
 * "Where does an order become paid?": `OrderAggregate.markPaid`.
 */
export class OrderAggregate extends AggregateRoot<Order> {
  private constructor(state: Order, version: number) {
    super(state, version);
  }

  static rehydrate(state: Order, version: number): OrderAggregate {
    return new OrderAggregate(state, version);
  }

  /** A new order, priced from its items, pending payment; `order.created`. */
  static place(input: PlaceOrderInput): OrderAggregate {
    const now = input.now ?? new Date();
    const order = new OrderAggregate(
      {
        id: randomUUID(),
        orderNumber: newOrderNumber(now),
        userId: input.userId,
        items: input.items,
        totalAmountMinor: totalOf(input.items),
        currency: input.currency,
        status: 'pending_payment',
        paymentId: null,
        createdAt: now,
        updatedAt: now,
        history: [{ at: now, from: null, to: 'pending_payment', actor: `customer:${input.userId}`, detail: null }],
      },
      0,
    );
    order.recordChange(createEvent('order.created', orderRef(order.current), input.origin));
    return order;
  }


  /** pending_payment → cancelled (owner or admin); `order.cancelled` then cancels its open payment. */
  cancel(actor: string, reason: string, origin: EventOrigin): void {
    this.moveTo('cancelled', actor, reason);
    this.recordChange(createEvent('order.cancelled', { ...orderRef(this.current), reason }, origin));
  }

  /**
   * payment.succeeded → paid, once: the same payment again is `already_paid`; an order that can no
   * longer be paid (cancelled, or paid by another payment) or an amount other than the total is
   * `not_payable` and changes nothing (the money shows in reconciliation, to be refunded).
   */
  markPaid(payment: { paymentId: string; transactionId: string | null; amountMinor: number }, origin: EventOrigin): PaidOutcome {
    if (this.current.status !== 'pending_payment') return this.current.paymentId === payment.paymentId ? 'already_paid' : 'not_payable';
    if (payment.amountMinor !== this.current.totalAmountMinor) return 'not_payable';
    this.moveTo('paid', `payment:${payment.paymentId}`, payment.transactionId, { paymentId: payment.paymentId });
    this.recordChange(
      createEvent('order.paid', { ...orderRef(this.current), paymentId: payment.paymentId, transactionId: payment.transactionId }, origin),
    );
    return 'paid';
  }

  private moveTo(to: OrderStatus, actor: string, detail: string | null, set: Partial<Pick<Order, 'paymentId'>> = {}): void {
    const from = this.current.status;
    orderStateMachine.assertTransition(from, to);
    const at = new Date();
    this.current = { ...this.current, ...set, status: to, updatedAt: at, history: [...this.current.history, { at, from, to, actor, detail }] };
    this.recordChange();
  }
}
