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
  // Refunds of the paying payment only add up: another partial refund, or the rest.
  partially_refunded: ['partially_refunded', 'refunded'],
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
  /** Refunded so far of the paying payment (its `refundedMinor`): only grows, so a late, older refund event never lowers it. */
  refundedMinor: number;
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
 * `other_payment`: the refunded payment is not the one that paid the order (a late success, a duplicate
 * payment of a cancelled or unpaid order); `not_refundable`: paid by it, but shipped or completed.
 */
export type RefundOutcome = 'refunded' | 'partially_refunded' | 'already_recorded' | 'other_payment' | 'not_refundable' | 'payment_not_yet_applied';

/** What the order needs to know of a refund of a payment (payment.refunded). */
export interface PaymentRefund {
  paymentId: string;
  refundId: string;
  /** The payment's total refunded so far, this refund included. */
  refundedMinor: number;
  /** The payment is refunded in full. */
  fully: boolean;
  /** The payment succeeded as this order's payment (its `payment.succeeded` may not have arrived yet). */
  paidOrder: boolean;
  actor: string;
}

/**
 * The order aggregate: every move checks the table, appends to the history and records its event.
 * "Where does an order become paid?": `OrderAggregate.markPaid`; "refunded?": `OrderAggregate.recordRefund`.
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
        refundedMinor: 0,
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

  /**
   * payment.refunded → refunded (the payment refunded in full) or partially_refunded, only for the
   * payment that paid the order; `order.refunded`. Out-of-order and repeated deliveries never regress:
   * a refunded order stays refunded, and a refund total not above the one recorded changes nothing.
   */
  recordRefund(refund: PaymentRefund, origin: EventOrigin): RefundOutcome {
    // Events may arrive out of order: a refund of the payment that pays this order can be here before
    // that payment's success (still in a retry queue, or the broker restarted). It waits for it.
    if (this.current.status === 'pending_payment' && refund.paidOrder) return 'payment_not_yet_applied';
    if (this.current.paymentId !== refund.paymentId) return 'other_payment';
    const { status, refundedMinor } = this.current;
    if (status === 'refunded') return 'already_recorded';
    if (status !== 'paid' && status !== 'partially_refunded') return 'not_refundable';
    if (!refund.fully && refund.refundedMinor <= refundedMinor) return 'already_recorded';
    const to = refund.fully ? 'refunded' : 'partially_refunded';
    const total = Math.max(refundedMinor, refund.refundedMinor);
    const detail = `refund ${refund.refundId} by ${refund.actor}: ${formatMinorAmount(total)} of ${formatMinorAmount(this.current.totalAmountMinor)} refunded`;
    this.moveTo(to, `payment:${refund.paymentId}`, detail, { refundedMinor: total });
    this.recordChange(
      createEvent('order.refunded', { ...orderRef(this.current), paymentId: refund.paymentId, refundedMinor: total, fully: refund.fully }, origin),
    );
    return to;
  }

  private moveTo(to: OrderStatus, actor: string, detail: string | null, set: Partial<Pick<Order, 'paymentId' | 'refundedMinor'>> = {}): void {
    const from = this.current.status;
    orderStateMachine.assertTransition(from, to);
    const at = new Date();
    this.current = { ...this.current, ...set, status: to, updatedAt: at, history: [...this.current.history, { at, from, to, actor, detail }] };
    this.recordChange();
  }
}
