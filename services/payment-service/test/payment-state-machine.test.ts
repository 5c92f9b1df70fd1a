import { IllegalTransition } from '@pay/errors';
import {
  LIVE_STATUSES,
  PAYMENT_STATUSES,
  PAYMENT_TRANSITIONS,
  PaymentAggregate,
  assertTransition,
  canTransition,
  liveKeyFor,
  type Payment,
  type PaymentStatus,
} from '../src/domain/payment';

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
const origin = { producer: 'test' };

function payment(status: PaymentStatus, version = 3): PaymentAggregate {
  const now = new Date();
  const state: Payment = {
    id: 'p1', orderId: 'o1', userId: 'u1', amountMinor: 9900, currency: 'CNY', method: 'wechat', status,
    transactionId: null, provider: null, lateSuccess: false, providerOrder: null, nextQueryAt: null, queryAttempts: 0, refunds: [], duplicateTransactions: [], expiresAt: new Date(now.getTime() + 60_000), createdAt: now, updatedAt: now, logs: [],
  };
  return PaymentAggregate.rehydrate(state, version);
}

/** The aggregate's move that leads into each state (init is only ever a starting state). */
const MOVE_INTO: Record<Exclude<PaymentStatus, 'init'>, (p: PaymentAggregate) => unknown> = {
  processing: (p) => p.start('tester', origin),
  succeeded: (p) => p.succeed({ transactionId: 't1', provider: 'mock', actor: 'tester', origin }),
  failed: (p) => p.fail('why', 'tester', 'mock', origin),
  cancelled: (p) => p.cancel('why', 'tester', origin),
  expired: (p) => p.expire('tester', origin),
};

describe('payment transition table', () => {
  it('is exactly the design table', () => {
    expect(PAYMENT_TRANSITIONS).toEqual(DESIGN);
  });

  it.each(cells)('%s → %s allowed: %s', (from, to, allowed) => {
    expect(canTransition(from, to)).toBe(allowed);
    if (!allowed) expect(() => assertTransition(from, to)).toThrow(IllegalTransition);
    if (to === 'init') return;
    const aggregate = payment(from);
    if (allowed) {
      MOVE_INTO[to](aggregate);
      expect(aggregate.status).toBe(to);
      expect(aggregate.state.logs.at(-1)).toEqual(expect.objectContaining({ from, to, actor: 'tester' }));
      expect(aggregate.newEvents.at(-1)!.type).toBe(`payment.${to}`);
      expect(aggregate.version).toBe(3); // the version it was loaded at: the save is guarded by it
    } else if (from === 'processing' && to === 'processing') {
      // Starting again while processing is not a move: it answers the provider order already opened.
      expect(MOVE_INTO[to](aggregate)).toBe('already_started');
      expect(aggregate.changed).toBe(false);
    } else if (to === 'cancelled' || to === 'expired' || to === 'processing') {
      expect(() => MOVE_INTO[to](aggregate)).toThrow(`payment cannot go from '${from}' to '${to}'`);
      expect(aggregate.changed).toBe(false);
    }
  });

  it('keys a live payment by its order and a closed one by itself', () => {
    for (const status of PAYMENT_STATUSES) {
      const key = liveKeyFor({ id: 'p1', orderId: 'o1' }, status);
      expect(key).toBe(LIVE_STATUSES.includes(status) ? 'o1' : 'closed:p1');
    }
  });
});

describe('payment aggregate moves', () => {
  const report = { transactionId: 'txn-1', provider: 'wechatpay' as const, notificationId: 'n1', actor: 'provider:wechatpay', origin };

  it('succeeds a started payment: transaction id kept, payment.verified then payment.succeeded', () => {
    const aggregate = payment('processing');
    expect(aggregate.succeed(report)).toBe('succeeded');
    expect(aggregate.state).toMatchObject({ status: 'succeeded', transactionId: 'txn-1', provider: 'wechatpay' });
    expect(aggregate.newEvents.map((e) => e.type)).toEqual(['payment.verified', 'payment.succeeded']);
  });

  it('records the implied start when a provider confirms a payment never started', () => {
    const aggregate = payment('init');
    aggregate.succeed(report);
    expect(aggregate.state.logs.map((l) => l.event)).toEqual(['started', 'succeeded']);
    expect(aggregate.newEvents.map((e) => e.type)).toEqual(['payment.processing', 'payment.verified', 'payment.succeeded']);
  });

  it('answers a repeated success with no change at all', () => {
    const aggregate = payment('succeeded');
    expect(aggregate.succeed(report)).toBe('already_succeeded');
    expect(aggregate.changed).toBe(false);
  });

  it.each(['failed', 'cancelled', 'expired'] as const)('flags a success for a %s payment as late_success, once; another transaction after it is a duplicate payment', (status) => {
    const aggregate = payment(status);
    expect(aggregate.succeed(report)).toBe('late_success');
    expect(aggregate.state).toMatchObject({ status, lateSuccess: true, transactionId: 'txn-1' });
    expect(aggregate.newEvents.map((e) => e.type)).toEqual(['payment.late_success']);
    const again = PaymentAggregate.rehydrate(aggregate.state, 4);
    expect(again.succeed(report)).toBe('late_success'); // the same report again: nothing new
    expect(again.changed).toBe(false);
    expect(again.succeed({ ...report, transactionId: 'txn-2' })).toBe('duplicate_paid'); // money taken a second time
    expect(again.state).toMatchObject({ transactionId: 'txn-1', duplicateTransactions: [expect.objectContaining({ transactionId: 'txn-2', amountMinor: 9900 })] });
    expect(again.newEvents.map((e) => e.type)).toEqual(['payment.duplicate_paid']);
  });

  it('a second success under another transaction id is a duplicate payment, flagged once per transaction', () => {
    const aggregate = payment('processing');
    expect(aggregate.succeed(report)).toBe('succeeded');
    expect(aggregate.succeed({ ...report, transactionId: 'txn-1' })).toBe('already_succeeded');
    expect(aggregate.succeed({ ...report, transactionId: 'txn-9' })).toBe('duplicate_paid');
    expect(aggregate.succeed({ ...report, transactionId: 'txn-9' })).toBe('already_succeeded');
    expect(aggregate.newEvents.map((e) => e.type)).toEqual(['payment.verified', 'payment.succeeded', 'payment.duplicate_paid']);
    // A person marking it succeeded again (no provider) is not money taken again.
    expect(aggregate.succeed({ ...report, provider: null, transactionId: 'manual-2' })).toBe('already_succeeded');
  });

  it('expires an open payment past its deadline when the success arrives, then flags it late', () => {
    const aggregate = payment('processing');
    expect(aggregate.succeed(report, new Date(Date.now() + 120_000))).toBe('late_success');
    expect(aggregate.state.status).toBe('expired');
    expect(aggregate.newEvents.map((e) => e.type)).toEqual(['payment.expired', 'payment.late_success']);
  });

  it('notes a failure for a closed payment without moving it', () => {
    const aggregate = payment('succeeded');
    expect(aggregate.fail('late failure', 'provider:mock', 'mock', origin)).toBe('already_closed');
    expect(aggregate.status).toBe('succeeded');
    expect(aggregate.state.logs.at(-1)).toMatchObject({ event: 'failure_ignored', from: 'succeeded', to: 'succeeded' });
    expect(aggregate.newEvents).toEqual([]);
    expect(aggregate.changed).toBe(true);
  });

  it('opens a payment for the order total with its deadline and payment.created', () => {
    const now = new Date('2026-11-26T10:00:00Z');
    const opened = PaymentAggregate.open({
      id: 'p9', order: { id: 'o9', userId: 'u9', amountMinor: 1234, currency: 'CNY' }, method: 'alipay', actor: 'customer:u9', ttlMinutes: 30, origin, now,
    });
    expect(opened.state).toMatchObject({ status: 'init', amountMinor: 1234, method: 'alipay', expiresAt: new Date('2026-11-26T10:30:00Z') });
    expect(opened.version).toBe(0);
    expect(opened.newEvents.map((e) => e.type)).toEqual(['payment.created']);
  });
});
