import { IllegalTransition } from '@pay/errors';
import { ORDER_STATUSES, OrderAggregate, OrderTotalTooLarge, newOrderNumber, orderStateMachine, totalOf, type OrderStatus } from '../src/domain/order';

const origin = { producer: 'test' };
const tea = [{ productId: 'p', name: 'n', unitPriceMinor: 100, quantity: 1 }];

function orderIn(status: OrderStatus, paymentId: string | null = null, refundedMinor = 0): OrderAggregate {
  return OrderAggregate.rehydrate({ ...OrderAggregate.place({ userId: 'u1', items: tea, currency: 'CNY', origin }).state, status, paymentId, refundedMinor }, 2);
}

const refundOf = (refundedMinor: number, fully: boolean, paymentId = 'pay-1', paidOrder = true) => ({ paymentId, refundId: `${paymentId}r01`, refundedMinor, fully, paidOrder, actor: 'admin:ops' });

const DESIGN: Record<OrderStatus, OrderStatus[]> = {
  pending_payment: ['paid', 'cancelled'],
  paid: ['shipped', 'refunded', 'partially_refunded'],
  shipped: ['completed'],
  completed: [],
  cancelled: [],
  refunded: [],
  partially_refunded: ['partially_refunded', 'refunded'],
};

const cells = ORDER_STATUSES.flatMap((from) => ORDER_STATUSES.map((to) => [from, to, DESIGN[from].includes(to)] as const));

describe('order transition table', () => {
  it('is exactly the design table', () => {
    expect(orderStateMachine.transitions).toEqual(DESIGN);
  });

  it.each(cells)('%s → %s allowed: %s', (from, to, allowed) => {
    expect(orderStateMachine.canTransition(from, to)).toBe(allowed);
    if (!allowed) expect(() => orderStateMachine.assertTransition(from, to)).toThrow(IllegalTransition);
  });

  it.each(ORDER_STATUSES)('cancel from %s follows the table', (from) => {
    const order = orderIn(from);
    if (DESIGN[from].includes('cancelled')) {
      order.cancel('customer:u1', 'changed mind', origin);
      expect(order.state.status).toBe('cancelled');
      expect(order.state.history.at(-1)).toMatchObject({ from, to: 'cancelled', actor: 'customer:u1', detail: 'changed mind' });
      expect(order.newEvents.map((e) => e.type)).toEqual(['order.cancelled']);
    } else {
      expect(() => order.cancel('customer:u1', 'x', origin)).toThrow(IllegalTransition);
      expect(order.changed).toBe(false);
    }
  });

  it.each(ORDER_STATUSES)('markPaid from %s: paid only from pending_payment, never a regression', (from) => {
    const order = orderIn(from);
    const outcome = order.markPaid({ paymentId: 'pay-1', transactionId: 't', amountMinor: 100 }, origin);
    if (from === 'pending_payment') {
      expect(outcome).toBe('paid');
      expect(order.state).toMatchObject({ status: 'paid', paymentId: 'pay-1' });
      expect(order.newEvents.map((e) => e.type)).toEqual(['order.paid']);
    } else {
      expect(outcome).toBe('not_payable');
      expect(order.changed).toBe(false);
    }
  });

  it.each(ORDER_STATUSES.flatMap((from) => [[from, false], [from, true]] as const))(
    'recordRefund from %s (fully: %s) of the paying payment follows the table',
    (from, fully) => {
      const order = orderIn(from, 'pay-1', from === 'partially_refunded' ? 30 : 0);
      const to = fully ? 'refunded' : 'partially_refunded';
      const outcome = order.recordRefund(refundOf(fully ? 100 : 40, fully), origin);
      if (DESIGN[from].includes(to)) {
        expect(outcome).toBe(to);
        expect(order.state).toMatchObject({ status: to, refundedMinor: fully ? 100 : 40 });
        expect(order.state.history.at(-1)).toMatchObject({ from, to, actor: 'payment:pay-1' });
        expect(order.newEvents.map((e) => [e.type, e.data])).toEqual([
          ['order.refunded', expect.objectContaining({ orderId: order.id, paymentId: 'pay-1', refundedMinor: fully ? 100 : 40, amountMinor: 100, currency: 'CNY', fully })],
        ]);
      } else {
        expect(outcome).toBe(from === 'refunded' ? 'already_recorded' : from === 'pending_payment' ? 'payment_not_yet_applied' : 'not_refundable');
        expect(order.changed).toBe(false);
      }
    },
  );
});

describe('order rules', () => {
  it('computes the total in integer fen from the items', () => {
    expect(
      totalOf([
        { productId: 'a', name: 'A', unitPriceMinor: 1999, quantity: 3 },
        { productId: 'b', name: 'B', unitPriceMinor: 1, quantity: 1 },
      ]),
    ).toBe(5998);
  });

  it('refuses a total beyond the money range as bad input (400), not a server fault', () => {
    for (const items of [
      [{ productId: 'a', name: 'A', unitPriceMinor: 999_999_999_999, quantity: 1000 }], // beyond safe integers
      [{ productId: 'a', name: 'A', unitPriceMinor: 999_999_999_999, quantity: 2 }], // just beyond the maximum
    ]) {
      expect(() => totalOf(items)).toThrow(OrderTotalTooLarge);
      expect(() => totalOf(items)).toThrow(expect.objectContaining({ code: 'bad_request' }));
    }
    expect(totalOf([{ productId: 'a', name: 'A', unitPriceMinor: 500_000_000_000, quantity: 2 }])).toBe(1_000_000_000_000);
  });

  it('numbers orders readably without ambiguous characters', () => {
    const number = newOrderNumber(new Date('2026-11-25T10:00:00Z'));
    expect(number).toMatch(/^ORD-20261125-[2-9A-HJ-NP-Z]{8}$/);
    expect(new Set(Array.from({ length: 200 }, () => newOrderNumber())).size).toBe(200);
  });

  it('starts a new order pending payment with a history entry and order.created', () => {
    const order = OrderAggregate.place({ userId: 'u1', items: [{ productId: 'p', name: 'n', unitPriceMinor: 250, quantity: 4 }], currency: 'CNY', origin });
    expect(order.state).toMatchObject({ status: 'pending_payment', totalAmountMinor: 1000, paymentId: null, userId: 'u1' });
    expect(order.state.history).toHaveLength(1);
    expect(order.newEvents.map((e) => e.type)).toEqual(['order.created']);
  });

  it('marks paid once: the same payment again is already_paid, another payment or amount is not_payable', () => {
    const order = OrderAggregate.place({ userId: 'u1', items: tea, currency: 'CNY', origin });
    expect(order.markPaid({ paymentId: 'pay-1', transactionId: 't', amountMinor: 99 }, origin)).toBe('not_payable');
    expect(order.markPaid({ paymentId: 'pay-1', transactionId: 't', amountMinor: 100 }, origin)).toBe('paid');
    const stored = OrderAggregate.rehydrate(order.state, 2);
    expect(stored.markPaid({ paymentId: 'pay-1', transactionId: 't', amountMinor: 100 }, origin)).toBe('already_paid');
    expect(stored.markPaid({ paymentId: 'pay-2', transactionId: 't', amountMinor: 100 }, origin)).toBe('not_payable');
    expect(stored.changed).toBe(false);
  });

  it('leaves a refund of its paying payment waiting while that payment\'s success has not been applied (out of order)', () => {
    const order = orderIn('pending_payment');
    expect(order.recordRefund(refundOf(100, true, 'pay-1', true), origin)).toBe('payment_not_yet_applied');
    expect(order.changed).toBe(false);
    // A late success never paid the order: its refund does not wait.
    expect(order.recordRefund(refundOf(100, true, 'pay-late', false), origin)).toBe('other_payment');
  });

  it('records a refund only of the payment that paid the order, never lowering what is recorded', () => {
    expect(orderIn('paid', 'pay-1').recordRefund(refundOf(100, true, 'pay-2'), origin)).toBe('other_payment');
    expect(orderIn('cancelled').recordRefund(refundOf(100, true, 'pay-2', false), origin)).toBe('other_payment');
    const partly = orderIn('partially_refunded', 'pay-1', 60);
    expect(partly.recordRefund(refundOf(60, false), origin)).toBe('already_recorded');
    expect(partly.recordRefund(refundOf(30, false), origin)).toBe('already_recorded');
    expect(partly.changed).toBe(false);
    const refunded = orderIn('refunded', 'pay-1', 100);
    expect(refunded.recordRefund(refundOf(30, false), origin)).toBe('already_recorded');
    expect(refunded.state).toMatchObject({ status: 'refunded', refundedMinor: 100 });
  });
});
