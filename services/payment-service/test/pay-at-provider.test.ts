import { randomUUID } from 'node:crypto';
import { createEvent, type Identity } from '@pay/contracts';
import { BusinessRuleViolation, Conflict, NotFound, Unavailable } from '@pay/errors';
import { createLogger } from '@pay/logger';
import { applyVerifiedCallback } from '../src/domain/apply-callback';
import { cancelPaymentsOfOrder } from '../src/domain/cancel-for-order';
import { createPaymentForOrder } from '../src/domain/create-payment';
import {
  CLOSE_GRACE_MS,
  cancelAtProvider,
  expireOverduePayments,
  nextQueryDelaySeconds,
  queryDuePayments,
  startAtProvider,
  type ProviderCalls,
} from '../src/domain/pay-at-provider';
import { InMemoryKnownOrders, InMemoryPaymentStore } from './support/in-memory-payment-store';
import { ScriptedProvider } from './support/scripted-provider';

const logger = createLogger('pay-at-provider-test', 'error');
const alice: Identity = { sub: 'alice', role: 'customer' };
const origin = { producer: 'test' };
const QUERY_AFTER_S = 60;

describe('paying at the provider (use cases, in-memory store, scripted provider)', () => {
  let store: InMemoryPaymentStore;
  let orders: InMemoryKnownOrders;
  let wechat: ScriptedProvider;
  let calls: ProviderCalls;

  beforeEach(() => {
    store = new InMemoryPaymentStore();
    orders = new InMemoryKnownOrders();
    wechat = new ScriptedProvider();
    calls = { store, providers: { wechatpay: wechat }, logger, queryAfterSeconds: QUERY_AFTER_S };
  });

  async function newPayment(method: 'wechat' | 'alipay' = 'wechat') {
    const orderId = randomUUID();
    await orders.recordCreated({ id: orderId, orderNumber: `ORD-${orderId.slice(0, 6)}`, userId: 'alice', amountMinor: 9900, currency: 'CNY' });
    return createPaymentForOrder(store, orders, { identity: alice, orderId, method }, { ttlMinutes: 30, orderWaitMs: 0 }, origin);
  }

  async function started() {
    const payment = await newPayment();
    await startAtProvider(calls, payment.id, {}, 'customer:alice', origin, alice);
    return payment;
  }

  const inFuture = (seconds: number) => new Date(Date.now() + seconds * 1000);

  describe('start', () => {
    it('opens the provider order (our id as out_trade_no, the exact amount, the payment deadline) and answers its pay_params', async () => {
      const payment = await newPayment();
      const { payment: after, outcome } = await startAtProvider(calls, payment.id, {}, 'customer:alice', origin, alice);
      expect(outcome).toBe('started');
      expect(after.status).toBe('processing');
      expect(after.providerOrder).toMatchObject({ provider: 'wechatpay', channel: 'native', payParams: { code_url: expect.stringContaining(payment.id) } });
      expect(wechat.opened.get(payment.id)).toMatchObject({ amountMinor: 9900, currency: 'CNY', expiresAt: payment.expiresAt, channel: 'native' });
      // The first recovery query is scheduled PAYMENT_QUERY_AFTER_S after start.
      expect(after.nextQueryAt!.getTime() - after.providerOrder!.openedAt.getTime()).toBe(QUERY_AFTER_S * 1000);
      expect(store.events.filter((event) => event.type === 'payment.processing')).toHaveLength(1);
    });

    it('a start whose write fails (database restarting) leaves the provider order open for the retry, which pays it', async () => {
      const payment = await newPayment();
      const save = store.save.bind(store);
      store.save = async () => {
        store.save = save;
        throw new Error('connection reset');
      };
      await expect(startAtProvider(calls, payment.id, {}, 'customer:alice', origin, alice)).rejects.toThrow('connection reset');
      expect(wechat.count('close')).toBe(0);
      const retried = await startAtProvider(calls, payment.id, {}, 'customer:alice', origin, alice);
      expect(retried.payment.status).toBe('processing');
      expect(wechat.count('close')).toBe(0);
    });

    it('starting again returns the same provider order without opening a second one', async () => {
      const payment = await started();
      const again = await startAtProvider(calls, payment.id, { channel: 'jsapi', payer: { openid: 'o1' } }, 'customer:alice', origin, alice);
      expect(again.outcome).toBe('already_started');
      expect(again.payment.providerOrder!.channel).toBe('native');
      expect(wechat.count('open')).toBe(1);
    });

    it('a provider that does not answer leaves the payment unchanged and answers a retryable 503', async () => {
      const payment = await newPayment();
      wechat.failNext('open', 'unknown');
      const refusal = startAtProvider(calls, payment.id, {}, 'customer:alice', origin, alice);
      await expect(refusal).rejects.toBeInstanceOf(Unavailable);
      await expect(refusal).rejects.toMatchObject({ code: 'provider_unavailable', retryAfterSeconds: expect.any(Number) });
      expect((await store.get(payment.id))!.status).toBe('init');
      // The retry opens the same out_trade_no again (the provider de-duplicates it).
      await startAtProvider(calls, payment.id, {}, 'customer:alice', origin, alice);
      expect(wechat.calls.filter((c) => c.operation === 'open').map((c) => c.paymentId)).toEqual([payment.id, payment.id]);
    });

    it('refuses a provider business refusal with 422, a channel of another provider with 409, an unconfigured provider with 422', async () => {
      const payment = await newPayment();
      wechat.failNext('open', 'rejected');
      await expect(startAtProvider(calls, payment.id, {}, 'customer:alice', origin, alice)).rejects.toMatchObject({ code: 'provider_rejected' });
      await expect(startAtProvider(calls, payment.id, { channel: 'precreate' }, 'customer:alice', origin, alice)).rejects.toMatchObject({
        code: 'channel_not_supported',
      });
      const alipayPayment = await newPayment('alipay');
      const unconfigured = startAtProvider(calls, alipayPayment.id, {}, 'customer:alice', origin, alice);
      await expect(unconfigured).rejects.toBeInstanceOf(BusinessRuleViolation);
      await expect(unconfigured).rejects.toMatchObject({ code: 'provider_not_configured' });
      expect((await store.get(payment.id))!.status).toBe('init');
    });

    it("answers another customer's payment 404 and a closed one 409, without asking the provider", async () => {
      const payment = await newPayment();
      await expect(startAtProvider(calls, payment.id, {}, 'customer:mallory', origin, { sub: 'mallory', role: 'customer' })).rejects.toBeInstanceOf(NotFound);
      await cancelAtProvider(calls, payment.id, 'changed mind', 'customer:alice', origin, { viewer: alice });
      await expect(startAtProvider(calls, payment.id, {}, 'customer:alice', origin, alice)).rejects.toBeInstanceOf(Conflict);
      expect(wechat.count('open')).toBe(0);
    });
  });

  describe('recovery query', () => {
    it('a paid payment whose notification never came ends succeeded through the query', async () => {
      const payment = await started();
      wechat.paid(payment.id, 9900, 'wx-recovered');
      expect(await queryDuePayments(calls, new Date())).toBe(0); // not due yet
      expect(await queryDuePayments(calls, inFuture(QUERY_AFTER_S + 1))).toBe(1);
      const after = (await store.get(payment.id))!;
      expect(after).toMatchObject({ status: 'succeeded', transactionId: 'wx-recovered' });
      expect(after.logs.at(-1)).toMatchObject({ event: 'succeeded', actor: 'system:provider-query' });
      expect(store.events.filter((event) => event.type === 'payment.succeeded')).toHaveLength(1);
    });

    it('keeps asking a pending one on a growing back-off, and never twice for one turn', async () => {
      const payment = await started();
      const at = inFuture(QUERY_AFTER_S + 1);
      // Two replicas' passes at the same moment: the turn is a guarded write, only one asks.
      const asked = await Promise.all([queryDuePayments(calls, at), queryDuePayments(calls, at)]);
      expect(asked.reduce((a, b) => a + b, 0)).toBe(1);
      const after = (await store.get(payment.id))!;
      expect(after.status).toBe('processing');
      expect(after.queryAttempts).toBe(1);
      expect(after.nextQueryAt!.getTime() - at.getTime()).toBe(nextQueryDelaySeconds(QUERY_AFTER_S, 1) * 1000);
      expect(nextQueryDelaySeconds(QUERY_AFTER_S, 2)).toBeGreaterThan(nextQueryDelaySeconds(QUERY_AFTER_S, 1));
      expect(nextQueryDelaySeconds(QUERY_AFTER_S, 40)).toBe(30 * 60);
    });

    it('refuses a query answer with another amount, and a failed query changes nothing', async () => {
      const payment = await started();
      wechat.failNext('query', 'unknown');
      await queryDuePayments(calls, inFuture(QUERY_AFTER_S + 1));
      expect((await store.get(payment.id))!.status).toBe('processing');
      wechat.paid(payment.id, 9901);
      await queryDuePayments(calls, inFuture(QUERY_AFTER_S * 10));
      const after = (await store.get(payment.id))!;
      expect(after.status).toBe('processing');
      expect(after.logs.at(-1)).toMatchObject({ event: 'amount_mismatch' });
    });

    it('never moves a final state back', async () => {
      const payment = await started();
      await cancelAtProvider(calls, payment.id, 'changed mind', 'customer:alice', origin, { viewer: alice });
      wechat.paid(payment.id, 9900);
      expect(await queryDuePayments(calls, inFuture(QUERY_AFTER_S * 10))).toBe(0); // only processing payments are asked
      expect((await store.get(payment.id))!.status).toBe('cancelled');
    });
  });

  describe('close on expiry and cancel', () => {
    it('expiry closes the provider order, asks once more, and expires', async () => {
      const payment = await started();
      store.setExpiresAt(payment.id, new Date(Date.now() - 1000));
      expect(await expireOverduePayments(calls)).toBe(1);
      expect(wechat.calls.map((c) => c.operation)).toEqual(['open', 'close', 'query']);
      expect((await store.get(payment.id))!).toMatchObject({ status: 'expired', lateSuccess: false });
    });

    it('paid while closing: expired and flagged late_success with payment.late_success', async () => {
      const payment = await started();
      wechat.paid(payment.id, 9900, 'wx-late');
      store.setExpiresAt(payment.id, new Date(Date.now() - 1000));
      await expireOverduePayments(calls);
      expect((await store.get(payment.id))!).toMatchObject({ status: 'expired', lateSuccess: true, transactionId: 'wx-late' });
      expect(store.events.map((event) => event.type)).toEqual(expect.arrayContaining(['payment.expired', 'payment.late_success']));
      expect(store.events.filter((event) => event.type === 'payment.succeeded')).toHaveLength(0);
    });

    it('holds the expiry while the provider cannot close, for the grace period only', async () => {
      const payment = await started();
      store.setExpiresAt(payment.id, new Date(Date.now() - 1000));
      wechat.failNext('close', 'retryable');
      expect(await expireOverduePayments(calls)).toBe(0);
      expect((await store.get(payment.id))!.status).toBe('processing');
      wechat.failNext('close', 'retryable');
      expect(await expireOverduePayments(calls, new Date(Date.now() + CLOSE_GRACE_MS))).toBe(1);
      expect((await store.get(payment.id))!.status).toBe('expired');
    });

    it('a never-started payment expires without asking any provider', async () => {
      const payment = await newPayment();
      store.setExpiresAt(payment.id, new Date(Date.now() - 1000));
      expect(await expireOverduePayments(calls)).toBe(1);
      expect(wechat.calls).toEqual([]);
    });

    it('cancel closes at the provider first; paid meanwhile leaves it cancelled and flagged late_success', async () => {
      const payment = await started();
      wechat.paid(payment.id, 9900);
      const { payment: after } = await cancelAtProvider(calls, payment.id, 'changed mind', 'customer:alice', origin, { viewer: alice });
      expect(after).toMatchObject({ status: 'cancelled', lateSuccess: true });
      expect(wechat.calls.map((c) => c.operation)).toEqual(['open', 'close', 'query']);
    });

    it('a provider that cannot close refuses the cancel with a retryable 503 and changes nothing', async () => {
      const payment = await started();
      wechat.failNext('close', 'unknown');
      await expect(cancelAtProvider(calls, payment.id, 'changed mind', 'customer:alice', origin, { viewer: alice })).rejects.toMatchObject({
        code: 'provider_unavailable',
      });
      expect((await store.get(payment.id))!.status).toBe('processing');
    });

    it("order.cancelled closes the order's open payment at its provider", async () => {
      const payment = await started();
      const event = createEvent(
        'order.cancelled',
        { orderId: payment.orderId, orderNumber: 'ORD', userId: 'alice', amountMinor: 9900, currency: 'CNY', reason: 'changed mind' },
        { producer: 'order-service' },
      );
      expect(await cancelPaymentsOfOrder(calls, orders, event)).toBe(1);
      expect(wechat.count('close')).toBe(1);
      expect((await store.get(payment.id))!.status).toBe('cancelled');
    });
  });

  it('a verified notification from another provider than the payment method is not applied', async () => {
    const payment = await started();
    const notice = createEvent(
      'callback.verified',
      { provider: 'mock', notificationId: randomUUID(), paymentId: payment.id, transactionId: 't1', outcome: 'success', amountMinor: 9900, receivedAt: new Date().toISOString(), verifyMs: 1 },
      { producer: 'callback-gateway' },
    );
    expect(await applyVerifiedCallback(store, notice, logger)).toBe('provider_mismatch');
    const after = (await store.get(payment.id))!;
    expect(after.status).toBe('processing');
    expect(after.logs.at(-1)).toMatchObject({ event: 'provider_mismatch' });
  });
});
