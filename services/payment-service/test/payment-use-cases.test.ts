import { randomUUID } from 'node:crypto';
import { createEvent, type Identity } from '@pay/contracts';
import { BusinessRuleViolation, IllegalTransition, NotFound } from '@pay/errors';
import { createLogger } from '@pay/logger';
import { applyVerifiedCallback } from '../src/domain/apply-callback';
import { cancelPaymentsOfOrder } from '../src/domain/cancel-for-order';
import { createPaymentForOrder } from '../src/domain/create-payment';
import { expireOverduePayments, type ProviderCalls } from '../src/domain/pay-at-provider';
import { expirePayment, failPayment, startPayment } from '../src/domain/payment-moves';
import { processPaymentSuccess } from '../src/domain/process-success';
import type { KnownOrders } from '../src/domain/known-orders';
import type { PaymentStore } from '../src/domain/payment-store';
import { LivePaymentExists } from '../src/data-access/payment-repository';
import { databaseKit, inMemoryKit, type Kit } from './support/payment-kits';

const logger = createLogger('payment-test', 'error');
const alice: Identity = { sub: 'alice', role: 'customer' };
const settings = { ttlMinutes: 30, orderWaitMs: 0 };
const origin = { producer: 'test' };
/** The use cases that may ask a provider, with none configured (these payments were never opened at one). */
const withoutProviders = (store: PaymentStore): ProviderCalls => ({ store, providers: {}, logger, queryAfterSeconds: 60 });

describe.each([
  ['in memory', async () => inMemoryKit()],
  ['real database', () => databaseKit(logger)],
])('payment use cases (%s)', (_name, makeKit) => {
  let kit: Kit;
  let store: PaymentStore;
  let orders: KnownOrders;

  beforeAll(async () => {
    kit = await makeKit();
    store = kit.store;
    orders = kit.orders;
  });

  afterAll(async () => {
    await kit.close();
  });

  const outboxTypes = (paymentId: string) => kit.eventTypes(paymentId);

  async function knownOrder(amountMinor = 9900, userId = 'alice') {
    const id = randomUUID();
    await orders.recordCreated({ id, orderNumber: `ORD-${id.slice(0, 6)}`, userId, amountMinor, currency: 'CNY' });
    return id;
  }

  async function newPayment(orderId?: string) {
    return createPaymentForOrder(store, orders, { identity: alice, orderId: orderId ?? (await knownOrder()), method: 'wechat' }, settings, origin);
  }

  it('creates a payment for the order total with an initial log entry and payment.created', async () => {
    const payment = await newPayment();
    expect(payment).toMatchObject({ status: 'init', amountMinor: 9900, method: 'wechat', userId: 'alice' });
    expect(payment.expiresAt.getTime() - payment.createdAt.getTime()).toBe(30 * 60_000);
    expect(payment.logs).toEqual([expect.objectContaining({ event: 'created', from: null, to: 'init' })]);
    expect(await outboxTypes(payment.id)).toEqual(['payment.created']);
  });

  it('refuses a client amount different from the order total (422) and another customer’s order (404)', async () => {
    const orderId = await knownOrder(9900);
    await expect(createPaymentForOrder(store, orders, { identity: alice, orderId, method: 'wechat', amountMinor: 9800 }, settings, origin)).rejects.toMatchObject({
      code: 'amount_mismatch',
    });
    await expect(
      createPaymentForOrder(store, orders, { identity: { sub: 'mallory', role: 'customer' }, orderId, method: 'wechat' }, settings, origin),
    ).rejects.toBeInstanceOf(NotFound);
    await expect(createPaymentForOrder(store, orders, { identity: alice, orderId: 'no-such-order', method: 'wechat' }, settings, origin)).rejects.toBeInstanceOf(
      NotFound,
    );
  });

  it('refuses a second live payment for the same order under 50 concurrent creates', async () => {
    const orderId = await knownOrder();
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => newPayment(orderId)));
    const created = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(created).toHaveLength(1);
    expect(refused).toHaveLength(49);
    for (const r of refused) expect(r.reason).toBeInstanceOf(LivePaymentExists);
    expect(await kit.statusesForOrder(orderId)).toEqual(['init']);
  });

  it('allows a new attempt after a failed one', async () => {
    const orderId = await knownOrder();
    const first = await newPayment(orderId);
    await startPayment(store, first.id, 'customer:alice', origin);
    await failPayment(store, first.id, 'card declined', 'provider:mock', 'mock', origin);
    const second = await newPayment(orderId);
    expect(second.id).not.toBe(first.id);
  });

  it('processes success once: a second report changes nothing and answers the same', async () => {
    const payment = await newPayment();
    await startPayment(store, payment.id, 'customer:alice', origin);
    const report = { transactionId: 'txn-1', provider: 'mock' as const, actor: 'provider:mock', origin };
    const first = await processPaymentSuccess(store, payment.id, report, logger);
    const second = await processPaymentSuccess(store, payment.id, report, logger);
    expect(first.outcome).toBe('succeeded');
    expect(second.outcome).toBe('already_succeeded');
    expect(second.payment.status).toBe('succeeded');
    expect(second.payment.transactionId).toBe('txn-1');
    expect(second.payment.logs.filter((l) => l.event === 'succeeded')).toHaveLength(1);
    expect((await outboxTypes(payment.id)).filter((t) => t === 'payment.succeeded')).toHaveLength(1);
  });

  it('applies 20 concurrent success reports exactly once', async () => {
    const payment = await newPayment();
    await startPayment(store, payment.id, 'customer:alice', origin);
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () => processPaymentSuccess(store, payment.id, { transactionId: 'txn-x', provider: 'mock', actor: 'provider:mock', origin }, logger)),
    );
    expect(outcomes.filter((o) => o.outcome === 'succeeded')).toHaveLength(1);
    expect((await outboxTypes(payment.id)).filter((t) => t === 'payment.succeeded')).toHaveLength(1);
  });

  it('keeps an expired payment expired when the provider reports success late, flags late_success and emits it once', async () => {
    const payment = await newPayment();
    await expirePayment(store, payment.id, 'admin:ops', origin);
    const report = { transactionId: 'txn-late', provider: 'mock' as const, actor: 'provider:mock', origin };
    const late = await processPaymentSuccess(store, payment.id, report, logger);
    expect(late.outcome).toBe('late_success');
    expect(late.payment).toMatchObject({ status: 'expired', lateSuccess: true, transactionId: 'txn-late' });
    const again = await processPaymentSuccess(store, payment.id, { ...report, transactionId: 'txn-other' }, logger);
    expect(again.payment.transactionId).toBe('txn-late'); // the first transaction id is kept
    expect((await outboxTypes(payment.id)).filter((t) => t === 'payment.late_success')).toHaveLength(1);
    expect((await outboxTypes(payment.id)).includes('payment.succeeded')).toBe(false);
  });

  it('never succeeds a payment past its deadline even before the sweeper ran', async () => {
    const payment = await newPayment();
    await kit.makeOverdue(payment.id);
    const result = await processPaymentSuccess(store, payment.id, { transactionId: 't', provider: 'mock', actor: 'provider:mock', origin }, logger);
    expect(result.outcome).toBe('late_success');
    expect(result.payment.status).toBe('expired');
    expect(await outboxTypes(payment.id)).toEqual(expect.arrayContaining(['payment.expired', 'payment.late_success']));
  });

  it('sweeps open payments past expires_at into expired with payment.expired', async () => {
    const overdue = await newPayment();
    const fresh = await newPayment();
    await kit.makeOverdue(overdue.id);
    await expireOverduePayments(withoutProviders(store));
    expect((await store.get(overdue.id))!.status).toBe('expired');
    expect((await store.get(fresh.id))!.status).toBe('init');
    expect(await outboxTypes(overdue.id)).toContain('payment.expired');
    // The order may be paid again with a new attempt.
    await expect(newPayment(overdue.orderId)).resolves.toMatchObject({ status: 'init' });
  });

  it('cancels the open payment when its order is cancelled, and refuses new ones', async () => {
    const payment = await newPayment();
    const event = createEvent(
      'order.cancelled',
      { orderId: payment.orderId, orderNumber: 'ORD', userId: 'alice', amountMinor: 9900, currency: 'CNY', reason: 'changed mind' },
      { producer: 'order-service' },
    );
    expect(await cancelPaymentsOfOrder(withoutProviders(store), orders, event)).toBe(1);
    expect((await store.get(payment.id))!.status).toBe('cancelled');
    expect(await outboxTypes(payment.id)).toContain('payment.cancelled');
    await expect(newPayment(payment.orderId)).rejects.toMatchObject({ code: 'order_not_payable' });
    await expect(newPayment(payment.orderId)).rejects.toBeInstanceOf(BusinessRuleViolation);
  });

  it('lets creates wait for an order.created still in flight without polling the database, then admits one', async () => {
    const orderId = randomUUID();
    let reads = 0;
    const counting: KnownOrders = {
      get: (id) => {
        reads++;
        return orders.get(id);
      },
      recordCreated: (order) => orders.recordCreated(order),
      recordCancelled: (id) => orders.recordCancelled(id),
      nextRecorded: (id, maxMs, signal) => orders.nextRecorded(id, maxMs, signal),
    };
    const waiting = Array.from({ length: 20 }, () =>
      createPaymentForOrder(store, counting, { identity: alice, orderId, method: 'wechat' }, { ttlMinutes: 30, orderWaitMs: 10_000 }, origin),
    );
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the order.created is still in flight
    await orders.recordCreated({ id: orderId, orderNumber: 'ORD-late', userId: 'alice', amountMinor: 9900, currency: 'CNY' });

    const outcomes = await Promise.allSettled(waiting);
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    for (const outcome of outcomes) if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(LivePaymentExists);
    // Polling every 100 ms read ~15 times per waiter in 1.5 s; a waiter now reads on arrival and once a second.
    expect(reads).toBeLessThanOrEqual(20 * 4);
  });

  it('withdraws a payment created while its order was being cancelled, so no live payment outlives the order', async () => {
    const orderId = await knownOrder();
    const cancellation = createEvent(
      'order.cancelled',
      { orderId, orderNumber: 'ORD', userId: 'alice', amountMinor: 9900, currency: 'CNY', reason: 'changed mind' },
      { producer: 'order-service' },
    );
    // order.cancelled is handled after the create read the order as payable but before it inserted.
    let raced = false;
    const racing: KnownOrders = {
      async get(id) {
        const seen = await orders.get(id);
        if (!raced) {
          raced = true;
          expect(await cancelPaymentsOfOrder(withoutProviders(store), orders, cancellation)).toBe(0);
        }
        return seen;
      },
      recordCreated: (order) => orders.recordCreated(order),
      recordCancelled: (id) => orders.recordCancelled(id),
      nextRecorded: (id, maxMs, signal) => orders.nextRecorded(id, maxMs, signal),
    };
    await expect(createPaymentForOrder(store, racing, { identity: alice, orderId, method: 'wechat' }, settings, origin)).rejects.toMatchObject({
      code: 'order_not_payable',
    });
    expect(await store.openForOrder(orderId)).toEqual([]);
    expect(await kit.statusesForOrder(orderId)).toEqual(['cancelled']);
    const [withdrawn] = (await store.list({ orderId }, 1, 10)).items;
    expect(await outboxTypes(withdrawn!.id)).toEqual(['payment.created', 'payment.cancelled']);
  });

  it('applies a verified failure callback and ignores one with the wrong amount', async () => {
    const payment = await newPayment();
    await startPayment(store, payment.id, 'customer:alice', origin);
    const callback = (amountMinor: number, outcome: 'success' | 'failure') =>
      createEvent(
        'callback.verified',
        { provider: 'wechatpay', notificationId: randomUUID(), paymentId: payment.id, transactionId: 't1', outcome, amountMinor, receivedAt: new Date().toISOString(), verifyMs: 1 },
        { producer: 'callback-gateway' },
      );
    expect(await applyVerifiedCallback(store, callback(1, 'success'), logger)).toBe('amount_mismatch');
    expect((await store.get(payment.id))!.status).toBe('processing');
    expect(await applyVerifiedCallback(store, callback(9900, 'failure'), logger)).toBe('failed');
    const failed = (await store.get(payment.id))!;
    expect(failed.status).toBe('failed');
    expect(failed.logs.map((l) => l.event)).toEqual(['created', 'started', 'amount_mismatch', 'failed']);
  });

  it('refuses an illegal move with 409 naming the current state', async () => {
    const payment = await newPayment();
    await expirePayment(store, payment.id, 'admin:ops', origin);
    const refusal = startPayment(store, payment.id, 'customer:alice', origin);
    await expect(refusal).rejects.toBeInstanceOf(IllegalTransition);
    await expect(refusal).rejects.toMatchObject({ message: "payment cannot go from 'expired' to 'processing'" });
  });
});
