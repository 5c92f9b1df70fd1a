import { IllegalTransition } from '@pay/errors';
import { LIVE_STATUSES, PAYMENT_STATUSES, PAYMENT_TRANSITIONS, assertTransition, canTransition, liveKeyFor, move, type Payment, type PaymentStatus } from '../src/domain/payment';

/** The design's table, written out independently of the code under test. */
const DESIGN: Record<PaymentStatus, PaymentStatus[]> = {
  init: ['processing', 'cancelled', 'expired'],
  processing: ['succeeded', 'failed', 'cancelled', 'expired'],
  succeeded: [],
  failed: [],
  cancelled: [],
  expired: [],
};

const cells = PAYMENT_STATUSES.flatMap((from) => PAYMENT_STATUSES.map((to) => [from, to, DESIGN[from].includes(to)] as const));

function payment(status: PaymentStatus): Payment {
  const now = new Date();
  return {
    id: 'p1', orderId: 'o1', userId: 'u1', amountMinor: 9900, currency: 'CNY', method: 'wechat', status,
    transactionId: null, provider: null, lateSuccess: false, expiresAt: now, createdAt: now, updatedAt: now, logs: [],
  };
}

describe('payment transition table', () => {
  it('is exactly the design table', () => {
    expect(PAYMENT_TRANSITIONS).toEqual(DESIGN);
  });

  it.each(cells)('%s → %s allowed: %s', (from, to, allowed) => {
    expect(canTransition(from, to)).toBe(allowed);
    if (allowed) {
      const change = move(payment(from), to, 'evt', 'tester', 'why');
      expect(change).toMatchObject({ from, to });
      expect(change.logs).toEqual([expect.objectContaining({ event: 'evt', from, to, actor: 'tester', detail: 'why' })]);
    } else {
      expect(() => assertTransition(from, to)).toThrow(IllegalTransition);
      expect(() => move(payment(from), to, 'evt', 'tester')).toThrow(`payment cannot go from '${from}' to '${to}'`);
    }
  });

  it('keys a live payment by its order and a closed one by itself', () => {
    for (const status of PAYMENT_STATUSES) {
      const key = liveKeyFor({ id: 'p1', orderId: 'o1' }, status);
      expect(key).toBe(LIVE_STATUSES.includes(status) ? 'o1' : 'closed:p1');
    }
  });
});
