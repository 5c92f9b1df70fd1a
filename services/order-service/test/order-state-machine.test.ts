import { IllegalTransition } from '@pay/errors';
import { ORDER_STATUSES, OrderTotalTooLarge, moveOrder, newOrder, newOrderNumber, orderStateMachine, totalOf, type OrderStatus } from '../src/domain/order';

const DESIGN: Record<OrderStatus, OrderStatus[]> = {
  pending_payment: ['paid', 'cancelled'],
  paid: ['shipped', 'refunded', 'partially_refunded'],
  shipped: ['completed'],
  completed: [],
  cancelled: [],
  refunded: [],
  partially_refunded: [],
};

const cells = ORDER_STATUSES.flatMap((from) => ORDER_STATUSES.map((to) => [from, to, DESIGN[from].includes(to)] as const));

describe('order transition table', () => {
  it('is exactly the design table', () => {
    expect(orderStateMachine.transitions).toEqual(DESIGN);
  });

  it.each(cells)('%s → %s allowed: %s', (from, to, allowed) => {
    const order = { ...newOrder('u1', [{ productId: 'p', name: 'n', unitPriceMinor: 100, quantity: 1 }], 'CNY'), status: from };
    if (allowed) {
      expect(moveOrder(order, to, 'tester')).toMatchObject({ from, to, entry: { from, to, actor: 'tester' } });
    } else {
      expect(() => moveOrder(order, to, 'tester')).toThrow(IllegalTransition);
    }
  });
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
      expect(() => totalOf(items)).toThrow(expect.objectContaining({ status: 400, code: 'bad_request' }));
    }
    expect(totalOf([{ productId: 'a', name: 'A', unitPriceMinor: 500_000_000_000, quantity: 2 }])).toBe(1_000_000_000_000);
  });

  it('numbers orders readably without ambiguous characters', () => {
    const number = newOrderNumber(new Date('2026-11-25T10:00:00Z'));
    expect(number).toMatch(/^ORD-20261125-[2-9A-HJ-NP-Z]{8}$/);
    expect(new Set(Array.from({ length: 200 }, () => newOrderNumber())).size).toBe(200);
  });

  it('starts a new order pending payment with a history entry', () => {
    const order = newOrder('u1', [{ productId: 'p', name: 'n', unitPriceMinor: 250, quantity: 4 }], 'CNY');
    expect(order).toMatchObject({ status: 'pending_payment', totalAmountMinor: 1000, paymentId: null, userId: 'u1' });
    expect(order.history).toHaveLength(1);
  });
});
