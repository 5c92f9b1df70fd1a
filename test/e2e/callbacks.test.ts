import { randomUUID } from 'node:crypto';
import type { ApiClient } from '@pay/client';
import type { ServiceName } from '@pay/harness';
import { startBrokerProxy, type BrokerProxy } from '../support/broker-proxy';
import { testAmqpUrl } from '../support/isolation';
import { eventually, startTestStack, type TestStack } from '../support/stack';

/**
 * Provider callbacks across the real processes: WeChat Pay and Alipay formats, duplicates, forgeries,
 * wrong amounts, failures, and a broker outage. The stack reaches RabbitMQ through a TCP proxy of its
 * own, so "the broker goes down" for this stack only, never for the other test files sharing it.
 * Two replicas of each internal service and of the callback gateway (behind the harness's balancer):
 * a storm of duplicates lands on both callback-gateway replicas at once and must still apply once.
 */
describe('provider callbacks end to end', () => {
  let proxy: BrokerProxy;
  let system: TestStack;
  let carol: ApiClient;
  let auditor: ApiClient;

  beforeAll(async () => {
    proxy = await startBrokerProxy(testAmqpUrl());
    system = await startTestStack('callbacks', { AMQP_URL: proxy.url }, { replicas: 2 });
    carol = system.client('carol');
    auditor = system.client('auditor-1', 'auditor');
  }, 120_000);

  afterAll(async () => {
    // Services shut down cleanly only with their broker reachable.
    await proxy?.start();
    await system?.stop();
    await proxy?.close();
  });

  async function pendingOrder(price: string) {
    return carol.createOrder({ items: [{ product_id: await system.productAt(price), quantity: 1 }] });
  }

  async function startedPayment(price: string, method: 'wechat' | 'alipay' = 'wechat') {
    const order = await pendingOrder(price);
    const payment = await carol.createPayment({ order_id: order.id, method });
    await carol.startPayment(payment.id);
    return { order, payment };
  }

  async function audited(params: { payment_id?: string; order_id?: string; action?: string }) {
    return (await auditor.getAuditEvents({ ...params, page_size: 100 })).results;
  }

  async function actionsOf(params: { payment_id?: string; order_id?: string }): Promise<string[]> {
    return (await audited(params)).map((record) => record.action as string);
  }

  async function orderPaid(orderId: string) {
    await eventually('order paid', async () => (await carol.getOrder(orderId)).status === 'paid');
  }

  function replicaUrls(name: ServiceName): string[] {
    return system.stack.replicas[name].map((replica) => replica.url);
  }

  /** Whether every replica of the service answers /readyz with 200 (`false`: whether none does). */
  async function allReady(name: ServiceName, ready = true): Promise<boolean> {
    const states = await Promise.all(replicaUrls(name).map(async (url) => (await fetch(`${url}/readyz`)).status === 200));
    return states.every((state) => state === ready);
  }

  /** A Prometheus counter of each replica of one service, summed over the series matching `labels`. */
  async function metricByReplica(name: ServiceName, counter: string, labels: Record<string, string>): Promise<number[]> {
    return Promise.all(
      system.stack.replicas[name].map(async (replica) => {
        const text = await (await fetch(`${replica.metricsUrl}/metrics`)).text();
        let sum = 0;
        for (const line of text.split('\n')) {
          const match = /^([a-z_]+)\{(.*)\} ([0-9.e+-]+)$/.exec(line);
          if (!match || match[1] !== counter) continue;
          const series = Object.fromEntries([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
          if (Object.entries(labels).every(([key, value]) => series[key] === value)) sum += Number(match[3]);
        }
        return sum;
      }),
    );
  }

  /** The service's figure: the sum over its replicas, as a Prometheus query takes it. */
  async function metric(name: ServiceName, counter: string, labels: Record<string, string>): Promise<number> {
    return (await metricByReplica(name, counter, labels)).reduce((sum, value) => sum + value, 0);
  }

  it('pays an order through a WeChat Pay notification', async () => {
    const { order, payment } = await startedPayment('12.34');
    const answer = await system.callback({ provider: 'wechatpay', paymentId: payment.id, amountMinor: 1234, status: 'SUCCESS', transactionId: 'wx-txn-1' });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'SUCCESS' });
    await orderPaid(order.id);
    const detail = await carol.getPaymentDetail(payment.id);
    expect(detail).toMatchObject({ status: 'succeeded', transaction_id: 'wx-txn-1' });
    expect((await auditor.getPaymentDetail(payment.id)).logs.at(-1)?.actor).toBe('provider:wechatpay');
  });

  it('pays an order through an Alipay notification', async () => {
    const { order, payment } = await startedPayment('56.78', 'alipay');
    const answer = await system.callback({ provider: 'alipay', paymentId: payment.id, amountMinor: 5678, status: 'SUCCESS', transactionId: 'ali-txn-1' });
    expect(answer).toEqual({ status: 200, body: 'success' });
    await orderPaid(order.id);
    const detail = await carol.getPaymentDetail(payment.id);
    expect(detail).toMatchObject({ status: 'succeeded', transaction_id: 'ali-txn-1' });
    expect((await auditor.getPaymentDetail(payment.id)).logs.at(-1)?.actor).toBe('provider:alipay');
  });

  it('answers a storm of 100 duplicate notifications with success and applies it once', async () => {
    const { order, payment } = await startedPayment('20.00');
    const duplicate = { provider: 'wechatpay' as const, paymentId: payment.id, amountMinor: 2000, status: 'SUCCESS' as const, notificationId: `ntf-${randomUUID()}`, transactionId: 'wx-storm' };
    const answeredBefore = await metricByReplica('callback-gateway', 'callbacks_total', { provider: 'wechatpay' });
    const answers: { status: number; body: string }[] = [];
    for (let batch = 0; batch < 4; batch++) {
      answers.push(...(await Promise.all(Array.from({ length: 25 }, () => system.callback(duplicate)))));
    }
    expect(answers).toHaveLength(100);
    expect(answers.filter((answer) => answer.status !== 200 || JSON.parse(answer.body).code !== 'SUCCESS')).toEqual([]);
    // The storm was shared by both callback-gateway replicas (the balancer alternates), racing each other.
    const answeredAfter = await metricByReplica('callback-gateway', 'callbacks_total', { provider: 'wechatpay' });
    const perReplica = answeredAfter.map((after, i) => after - answeredBefore[i]!);
    expect({ perReplica, total: perReplica.reduce((sum, n) => sum + n, 0) }).toEqual({ perReplica: [expect.any(Number), expect.any(Number)], total: 100 });
    expect(Math.min(...perReplica)).toBeGreaterThan(0);

    await orderPaid(order.id);
    await eventually('order_paid audited', async () => (await actionsOf({ order_id: order.id })).includes('order_paid'));
    const actions = await actionsOf({ payment_id: payment.id });
    expect(actions.filter((action) => action === 'callback_verified')).toHaveLength(1);
    expect(actions.filter((action) => action === 'payment_succeeded')).toHaveLength(1);
    const detail = await carol.getPaymentDetail(payment.id);
    expect(detail.logs.filter((entry) => entry.event === 'succeeded')).toHaveLength(1);
  }, 90_000);

  it('refuses forged WeChat Pay and Alipay notifications and audits them as signature failures', async () => {
    const { payment } = await startedPayment('30.00');
    const wechat = await system.callback({ provider: 'wechatpay', paymentId: payment.id, amountMinor: 3000, status: 'SUCCESS', tamper: true });
    expect(wechat.status).toBe(401);
    expect(JSON.parse(wechat.body)).toMatchObject({ code: 'FAIL' });
    const alipay = await system.callback({ provider: 'alipay', paymentId: payment.id, amountMinor: 3000, status: 'SUCCESS', tamper: true });
    expect(alipay.status).toBeGreaterThanOrEqual(400);
    expect(alipay.status).toBeLessThan(500);
    expect(alipay.body).toBe('failure');

    const failures = await eventually('both signature failures audited', async () => {
      const records = await audited({ action: 'signature_verification_failed' });
      const providers = records.map((record) => record.provider);
      return providers.includes('wechatpay') && providers.includes('alipay') ? records : undefined;
    });
    expect(failures.every((record) => /^(bad_signature|missing_signature|unknown_serial)/.test(String(record.reason)))).toBe(true);
    expect((await carol.getPaymentDetail(payment.id)).status).toBe('processing');
  });

  it('refuses a correctly signed notification with the wrong amount, audits it, and leaves the payment unchanged', async () => {
    const { order, payment } = await startedPayment('40.00');
    const answer = await system.callback({ provider: 'wechatpay', paymentId: payment.id, amountMinor: 3999, status: 'SUCCESS' });
    expect(answer.status).toBe(422);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'FAIL', message: 'amount_mismatch' });

    const [rejection] = await eventually('amount mismatch audited', async () => {
      const records = await audited({ payment_id: payment.id, action: 'callback_rejected' });
      return records.length > 0 ? records : undefined;
    });
    expect(rejection).toMatchObject({ provider: 'wechatpay', payment_id: payment.id });
    expect(String(rejection!.reason)).toMatch(/^amount_mismatch/);

    const detail = await carol.getPaymentDetail(payment.id);
    expect(detail.status).toBe('processing');
    expect(detail.logs.map((entry) => entry.event)).toEqual(['created', 'started']);
    expect((await carol.getOrder(order.id)).status).toBe('pending_payment');
    expect(await actionsOf({ payment_id: payment.id })).not.toContain('callback_verified');
  });

  it('fails a processing payment on an Alipay TRADE_CLOSED notification, after which a new payment can be created', async () => {
    const { order, payment } = await startedPayment('50.00', 'alipay');
    const answer = await system.callback({ provider: 'alipay', paymentId: payment.id, amountMinor: 5000, status: 'FAILED' });
    expect(answer).toEqual({ status: 200, body: 'success' });
    await eventually('payment failed', async () => (await carol.getPaymentDetail(payment.id)).status === 'failed');
    expect((await carol.getOrder(order.id)).status).toBe('pending_payment');

    const retry = await carol.createPayment({ order_id: order.id, method: 'alipay' });
    expect(retry).toMatchObject({ status: 'init', order_id: order.id, amount: '50.00' });
    expect(retry.id).not.toBe(payment.id);
  });

  it('asks the provider to retry (503) a notification for a payment it has never heard of', async () => {
    const answer = await system.callback({ provider: 'alipay', paymentId: randomUUID(), amountMinor: 100, status: 'SUCCESS' });
    expect(answer).toEqual({ status: 503, body: 'failure' });
  });

  it('loses nothing while the broker is down: the provider’s retry is accepted once it is back, and the outbox publishes what changed meanwhile', async () => {
    const consumedBefore = {
      payments: await metric('callback-gateway', 'events_consumed_total', { type: 'payment.created', outcome: 'handled' }),
      orders: await metric('payment-service', 'events_consumed_total', { type: 'order.created', outcome: 'handled' }),
    };
    const { order, payment } = await startedPayment('60.00');
    const laterOrder = await pendingOrder('61.00');
    // The gateway knows the payment and the payment service the later order before the broker goes.
    await eventually('payment.created reached the callback gateway', async () =>
      (await metric('callback-gateway', 'events_consumed_total', { type: 'payment.created', outcome: 'handled' })) > consumedBefore.payments,
    );
    await eventually('order.created reached the payment service', async () =>
      (await metric('payment-service', 'events_consumed_total', { type: 'order.created', outcome: 'handled' })) >= consumedBefore.orders + 2,
    );
    const notificationId = `ntf-${randomUUID()}`;
    const notice = { provider: 'wechatpay' as const, paymentId: payment.id, amountMinor: 6000, status: 'SUCCESS' as const, notificationId, transactionId: 'wx-outage' };

    await proxy.stop();
    try {
      await eventually('services notice the broker is gone', async () => (await allReady('callback-gateway', false)) && (await allReady('payment-service', false)));
      const retryLaterBefore = await metric('callback-gateway', 'callbacks_total', { provider: 'wechatpay', outcome: 'retry_later' });
      const during = await system.callback(notice);
      expect(during.status).toBeGreaterThanOrEqual(500);
      expect(JSON.parse(during.body)).toMatchObject({ code: 'FAIL' });
      expect(await metric('callback-gateway', 'callbacks_total', { provider: 'wechatpay', outcome: 'retry_later' })).toBe(retryLaterBefore + 1);

      // A state change while the broker is down: stored with its events in the outbox.
      const laterPayment = await carol.createPayment({ order_id: laterOrder.id, method: 'wechat' });
      expect((await carol.startPayment(laterPayment.id)).status).toBe('processing');
      expect((await carol.getOrder(order.id)).status).toBe('pending_payment');
      expect((await carol.getPaymentDetail(payment.id)).status).toBe('processing');

      await proxy.start();
      await eventually('services reconnected', async () => (await allReady('callback-gateway')) && (await allReady('payment-service')), 30_000);

      // The provider retries the same notification.
      const retried = await system.callback(notice);
      expect(retried.status).toBe(200);
      expect(JSON.parse(retried.body)).toMatchObject({ code: 'SUCCESS' });
      await orderPaid(order.id);

      await eventually('outbox events published after the outage', async () => {
        const actions = await actionsOf({ payment_id: laterPayment.id });
        return actions.includes('payment_created') && actions.includes('payment_processing');
      });
      // The later payment reached the gateway's view through the outbox too: it can be paid.
      const paidLater = await system.callback({ provider: 'wechatpay', paymentId: laterPayment.id, amountMinor: 6100, status: 'SUCCESS' });
      expect(paidLater.status).toBe(200);
      await orderPaid(laterOrder.id);

      await eventually('order_paid audited', async () => (await actionsOf({ order_id: order.id })).includes('order_paid'));
      const actions = await actionsOf({ payment_id: payment.id });
      expect(actions.filter((action) => action === 'callback_verified')).toHaveLength(1);
      expect(actions.filter((action) => action === 'payment_succeeded')).toHaveLength(1);
      expect((await actionsOf({ order_id: order.id })).filter((action) => action === 'order_paid')).toHaveLength(1);
      const detail = await carol.getPaymentDetail(payment.id);
      expect(detail.logs.filter((entry) => entry.event === 'succeeded')).toHaveLength(1);
    } finally {
      await proxy.start();
    }
  }, 120_000);
});
