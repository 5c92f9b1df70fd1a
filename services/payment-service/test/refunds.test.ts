import { randomUUID } from 'node:crypto';
import { createEvent, type Identity } from '@pay/contracts';
import { BusinessRuleViolation } from '@pay/errors';
import { createLogger } from '@pay/logger';
import { applyVerifiedCallback } from '../src/domain/apply-callback';
import { createPaymentForOrder } from '../src/domain/create-payment';
import { startAtProvider } from '../src/domain/pay-at-provider';
import { PaymentAggregate, type Payment } from '../src/domain/payment';
import { processPaymentSuccess } from '../src/domain/process-success';
import { REFUND_STATUSES, REFUND_TRANSITIONS, paymentIdOfRefund, refundIdFor, type RefundStatus } from '../src/domain/refund';
import { findRefund, queryDueRefunds, refundAtProvider, type RefundCalls } from '../src/domain/refund-at-provider';
import { databaseKit, inMemoryKit, paidWechatPayment, type Kit } from './support/payment-kits';
import { ScriptedProvider } from './support/scripted-provider';

const logger = createLogger('refund-test', 'error');
const alice: Identity = { sub: 'alice', role: 'customer' };
const origin = { producer: 'test' };
const REFUND_QUERY_AFTER_S = 60;

describe('refund state machine', () => {
  const DESIGN: Record<RefundStatus, RefundStatus[]> = {
    pending: ['succeeded', 'failed', 'needs_attention'],
    needs_attention: ['succeeded', 'failed'],
    succeeded: [],
    failed: [],
  };
  const cells = REFUND_STATUSES.flatMap((from) => REFUND_STATUSES.filter((to) => to !== 'pending').map((to) => [from, to, DESIGN[from].includes(to)] as const));

  it('is exactly the design table (pending → succeeded | failed, plus needs_attention)', () => {
    expect(REFUND_TRANSITIONS).toEqual(DESIGN);
  });

  /** A succeeded payment of 9900 with one refund of 1000 in `status`. */
  function paymentWithRefund(status: RefundStatus): PaymentAggregate {
    const now = new Date();
    const refund = {
      id: refundIdFor('p1', 1), amountMinor: 1000, reason: 'r', status, providerRefundId: null, actor: 'admin:ops', idempotencyKey: null, requestFingerprint: null,
      nextQueryAt: now, queryAttempts: 0, createdAt: now, updatedAt: now, logs: [],
    };
    const state: Payment = {
      id: 'p1', orderId: 'o1', userId: 'u1', amountMinor: 9900, currency: 'CNY', method: 'wechat', status: 'succeeded', transactionId: 't1', provider: 'wechatpay',
      lateSuccess: false, providerOrder: null, nextQueryAt: null, queryAttempts: 0, refunds: [refund], duplicateTransactions: [],
      expiresAt: new Date(now.getTime() + 60_000), createdAt: now, updatedAt: now, logs: [],
    };
    return PaymentAggregate.rehydrate(state, 5);
  }

  it.each(cells)('%s → %s allowed: %s', (from, to, allowed) => {
    const payment = paymentWithRefund(from);
    const moved = payment.settleRefund(refundIdFor('p1', 1), { status: to, providerRefundId: 'wx-r1', detail: null }, 'provider:wechatpay', origin);
    expect(moved).toBe(allowed);
    expect(payment.changed).toBe(allowed);
    const types = payment.newEvents.map((event) => event.type);
    if (allowed && to === 'succeeded') expect(types).toEqual(['refund.succeeded', 'payment.refunded']);
    else if (allowed && to === 'failed') expect(types).toEqual(['refund.failed']);
    else expect(types).toEqual([]);
    expect(payment.state.refunds[0]!.status).toBe(allowed ? to : from);
  });

  it('says in payment.refunded whether the payment paid its order (the order waits for that success; a late success never paid it)', () => {
    const paying = paymentWithRefund('pending');
    paying.settleRefund(refundIdFor('p1', 1), { status: 'succeeded', providerRefundId: 'wx-r1', detail: null }, 'provider:wechatpay', origin);
    expect(paying.newEvents.find((event) => event.type === 'payment.refunded')?.data).toMatchObject({ paidOrder: true });
    const late = PaymentAggregate.rehydrate({ ...paymentWithRefund('pending').state, status: 'expired', lateSuccess: true }, 5);
    late.settleRefund(refundIdFor('p1', 1), { status: 'succeeded', providerRefundId: 'wx-r1', detail: null }, 'provider:wechatpay', origin);
    expect(late.newEvents.find((event) => event.type === 'payment.refunded')?.data).toMatchObject({ paidOrder: false });
  });

  it('names its payment in its id, within both providers\' 64 characters', () => {
    const paymentId = randomUUID().replace(/-/g, '');
    expect(refundIdFor(paymentId, 7)).toBe(`${paymentId}r07`);
    expect(refundIdFor(paymentId, 50).length).toBeLessThanOrEqual(64);
    expect(paymentIdOfRefund(refundIdFor(paymentId, 50))).toBe(paymentId);
    expect(paymentIdOfRefund('not-a-refund')).toBeNull();
  });
});

describe.each([
  ['in memory', async () => inMemoryKit()],
  ['real database', () => databaseKit(logger)],
])('refund use cases (%s)', (_name, makeKit) => {
  let kit: Kit;
  let wechat: ScriptedProvider;
  let calls: RefundCalls;

  beforeAll(async () => {
    kit = await makeKit();
  });

  afterAll(async () => {
    await kit.close();
  });

  beforeEach(() => {
    wechat = new ScriptedProvider();
    calls = { store: kit.store, providers: { wechatpay: wechat }, logger, queryAfterSeconds: 60, refundQueryAfterSeconds: REFUND_QUERY_AFTER_S };
  });

  const paidPayment = (transactionId?: string) => paidWechatPayment(kit, calls, transactionId);

  const ask = (amountMinor: number | null, key: string | null = null, reason = 'customer returned the goods') => ({
    amountMinor,
    reason,
    idempotencyKey: key,
    requestFingerprint: key ? JSON.stringify([amountMinor, reason]) : null,
  });

  it('a full refund (no amount: the rest) is sent with our refund id and settles with refund.succeeded and payment.refunded', async () => {
    const payment = await paidPayment();
    wechat.refundAnswer = 'succeeded';
    const { refund } = await refundAtProvider(calls, payment.id, ask(null), 'admin:ops', origin);
    expect(refund).toMatchObject({ id: refundIdFor(payment.id, 1), amountMinor: 9900, status: 'succeeded', providerRefundId: `wx-refund-${refund.id}` });
    expect(wechat.refunds.get(refund.id)).toMatchObject({ amountMinor: 9900, totalMinor: 9900, paymentId: payment.id });
    expect(await kit.eventTypes(payment.id)).toEqual(expect.arrayContaining(['refund.requested', 'refund.succeeded', 'payment.refunded']));
  });

  it('two partial refunds, then an over-refund refused 422 with nothing sent to the provider', async () => {
    const payment = await paidPayment();
    await refundAtProvider(calls, payment.id, ask(3000), 'admin:ops', origin);
    const second = await refundAtProvider(calls, payment.id, ask(6900), 'admin:ops', origin);
    expect(second.payment.refunds.map((r) => [r.amountMinor, r.status])).toEqual([[3000, 'pending'], [6900, 'pending']]);
    const refusal = refundAtProvider(calls, payment.id, ask(1), 'admin:ops', origin);
    await expect(refusal).rejects.toBeInstanceOf(BusinessRuleViolation);
    await expect(refusal).rejects.toMatchObject({ code: 'refund_exceeds_paid' });
    expect(wechat.count('refund')).toBe(2);
    // A refund settled as failed frees its amount again.
    await applyRefund(payment.id, refundIdFor(payment.id, 1), 'failed');
    await expect(refundAtProvider(calls, payment.id, ask(3000), 'admin:ops', origin)).resolves.toMatchObject({ refund: { amountMinor: 3000 } });
  });

  async function applyRefund(paymentId: string, refundId: string, status: 'succeeded' | 'failed' | 'needs_attention', refundMinor?: number) {
    const payment = (await kit.store.get(paymentId))!;
    const amount = refundMinor ?? payment.refunds.find((r) => r.id === refundId)!.amountMinor;
    const notice = createEvent(
      'callback.verified',
      {
        provider: 'wechatpay', notificationId: randomUUID(), paymentId, transactionId: payment.transactionId, outcome: status === 'succeeded' ? 'success' : 'failure',
        amountMinor: payment.amountMinor, receivedAt: new Date().toISOString(), verifyMs: 1,
        refund: { refundId, providerRefundId: `wx-${refundId}`, status, refundMinor: amount },
      },
      { producer: 'callback-gateway' },
    );
    return applyVerifiedCallback(kit.store, notice, logger);
  }

  it('a refund notification settles the refund it names; ABNORMAL is needs_attention; a repeat changes nothing', async () => {
    const payment = await paidPayment();
    const { refund } = await refundAtProvider(calls, payment.id, ask(2000), 'admin:ops', origin);
    expect(refund.status).toBe('pending');
    expect(await applyRefund(payment.id, refund.id, 'needs_attention')).toBe('refund_settled');
    expect(await applyRefund(payment.id, refund.id, 'needs_attention')).toBe('refund_unchanged');
    expect(await applyRefund(payment.id, refund.id, 'succeeded', 1999)).toBe('amount_mismatch');
    expect(await applyRefund(payment.id, refund.id, 'succeeded')).toBe('refund_settled');
    expect(await applyRefund(payment.id, refund.id, 'failed')).toBe('refund_unchanged'); // final stays final
    const after = (await findRefund(calls, refund.id)).refund;
    expect(after.logs.map((entry) => entry.to)).toEqual(['pending', 'needs_attention', 'succeeded']);
    expect((await kit.eventTypes(payment.id)).filter((type) => type === 'payment.refunded')).toHaveLength(1);
  });

  it('a refund whose answer was lost is asked about later, and sent again with the same id when the provider never got it', async () => {
    const payment = await paidPayment();
    wechat.failNext('refund', 'unknown');
    const { refund } = await refundAtProvider(calls, payment.id, ask(1500), 'admin:ops', origin);
    expect(refund.status).toBe('pending');
    expect(wechat.refunds.size).toBe(0);
    expect(await queryDueRefunds(calls, new Date())).toBe(0); // not due yet
    wechat.refundAnswer = 'succeeded';
    // (Other tests' refunds in this store may be due as well: only this one is looked at.)
    expect(await queryDueRefunds(calls, new Date(Date.now() + (REFUND_QUERY_AFTER_S + 1) * 1000))).toBeGreaterThanOrEqual(1);
    expect(wechat.calls.filter((c) => c.operation === 'refund' && c.paymentId === payment.id)).toHaveLength(2);
    expect(wechat.refunds.get(refund.id)).toMatchObject({ amountMinor: 1500 });
    expect((await findRefund(calls, refund.id)).refund.status).toBe('succeeded');
  });

  it('a pending refund whose notification is lost ends succeeded through the refund query', async () => {
    const payment = await paidPayment();
    const { refund } = await refundAtProvider(calls, payment.id, ask(1200), 'admin:ops', origin);
    wechat.settleRefund(refund.id, 'succeeded');
    await queryDueRefunds(calls, new Date(Date.now() + (REFUND_QUERY_AFTER_S + 1) * 1000));
    expect((await findRefund(calls, refund.id)).refund).toMatchObject({ status: 'succeeded', logs: expect.arrayContaining([expect.objectContaining({ actor: 'system:refund-query' })]) });
  });

  it('a provider refusal fails the refund (its amount is free again)', async () => {
    const payment = await paidPayment();
    wechat.failNext('refund', 'rejected');
    const { refund } = await refundAtProvider(calls, payment.id, ask(9900), 'admin:ops', origin);
    expect(refund.status).toBe('failed');
    expect(await kit.eventTypes(payment.id)).toContain('refund.failed');
    await expect(refundAtProvider(calls, payment.id, ask(9900), 'admin:ops', origin)).resolves.toMatchObject({ refund: { amountMinor: 9900 } });
  });

  it('Idempotency-Key: the same key and body answer the first refund; the same key with another body is refused', async () => {
    const payment = await paidPayment();
    const first = await refundAtProvider(calls, payment.id, ask(500, 'refund-key-0001'), 'admin:ops', origin);
    const again = await refundAtProvider(calls, payment.id, ask(500, 'refund-key-0001'), 'admin:ops', origin);
    expect(again).toMatchObject({ replayed: true, refund: { id: first.refund.id } });
    await expect(refundAtProvider(calls, payment.id, ask(600, 'refund-key-0001'), 'admin:ops', origin)).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    expect(wechat.count('refund')).toBe(1);
    expect((await kit.store.get(payment.id))!.refunds).toHaveLength(1);
  });

  it('20 concurrent partial refunds never exceed the paid amount', async () => {
    const payment = await paidPayment();
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => refundAtProvider(calls, payment.id, ask(1000), 'admin:ops', origin)));
    // Each is decided on the sum it read and saved only if nobody saved in between: at most 9 fit. A request
    // that keeps losing the race is refused as a retryable 409 (concurrent_change), never let through.
    const made = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    expect(made.length).toBeGreaterThanOrEqual(1);
    expect(made.length).toBeLessThanOrEqual(9);
    for (const outcome of outcomes) if (outcome.status === 'rejected') expect(outcome.reason).toMatchObject({ code: expect.stringMatching(/^refund_exceeds_paid$|^concurrent_change$/) });
    const stored = (await kit.store.get(payment.id))!;
    expect(stored.refunds.reduce((sum, refund) => sum + refund.amountMinor, 0)).toBeLessThanOrEqual(9900);
    expect(wechat.refundedAtProvider()).toBeLessThanOrEqual(9900);
    expect(new Set(stored.refunds.map((refund) => refund.id)).size).toBe(stored.refunds.length);
    // Every refund that exists was answered as made: no caller was told "failed" for a refund it got.
    expect(stored.refunds).toHaveLength(made.length);
  });

  it('refuses a refund of a payment that took no money (422 not_refundable)', async () => {
    const orderId = randomUUID();
    await kit.orders.recordCreated({ id: orderId, orderNumber: 'ORD-x', userId: 'alice', amountMinor: 9900, currency: 'CNY' });
    const payment = await createPaymentForOrder(kit.store, kit.orders, { identity: alice, orderId, method: 'wechat' }, { ttlMinutes: 30, orderWaitMs: 0 }, origin);
    await expect(refundAtProvider(calls, payment.id, ask(null), 'admin:ops', origin)).rejects.toMatchObject({ code: 'not_refundable' });
    expect(wechat.count('refund')).toBe(0);
  });

  it('a duplicate payment (paid again under another transaction) is flagged once, has its event, and its money is refundable', async () => {
    const payment = await paidPayment('wx-first');
    const second = { transactionId: 'wx-second', provider: 'wechatpay' as const, actor: 'provider:wechatpay', origin };
    expect((await processPaymentSuccess(kit.store, payment.id, second, logger)).outcome).toBe('duplicate_paid');
    expect((await processPaymentSuccess(kit.store, payment.id, second, logger)).outcome).toBe('already_succeeded');
    const stored = (await kit.store.get(payment.id))!;
    expect(stored).toMatchObject({ status: 'succeeded', transactionId: 'wx-first', duplicateTransactions: [expect.objectContaining({ transactionId: 'wx-second', amountMinor: 9900 })] });
    expect((await kit.eventTypes(payment.id)).filter((type) => type === 'payment.duplicate_paid')).toHaveLength(1);
    // Both charges may go back: 2 × 99.00.
    await refundAtProvider(calls, payment.id, ask(9900), 'admin:ops', origin);
    await expect(refundAtProvider(calls, payment.id, ask(9900), 'admin:ops', origin)).resolves.toMatchObject({ refund: { amountMinor: 9900 } });
    await expect(refundAtProvider(calls, payment.id, ask(1), 'admin:ops', origin)).rejects.toMatchObject({ code: 'refund_exceeds_paid' });
  });

  it('a late success is refundable', async () => {
    const orderId = randomUUID();
    await kit.orders.recordCreated({ id: orderId, orderNumber: 'ORD-l', userId: 'alice', amountMinor: 9900, currency: 'CNY' });
    const payment = await createPaymentForOrder(kit.store, kit.orders, { identity: alice, orderId, method: 'wechat' }, { ttlMinutes: 30, orderWaitMs: 0 }, origin);
    await startAtProvider(calls, payment.id, {}, 'customer:alice', origin, alice);
    await kit.makeOverdue(payment.id);
    expect((await processPaymentSuccess(kit.store, payment.id, { transactionId: 'wx-late', provider: 'wechatpay', actor: 'provider:wechatpay', origin }, logger)).outcome).toBe('late_success');
    wechat.refundAnswer = 'succeeded';
    const { refund } = await refundAtProvider(calls, payment.id, ask(null, null, 'paid after expiry'), 'admin:ops', origin);
    expect(refund).toMatchObject({ amountMinor: 9900, status: 'succeeded' });
  });
});
