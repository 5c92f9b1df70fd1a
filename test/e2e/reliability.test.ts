import { randomUUID } from 'node:crypto';
import { createEvent } from '@pay/contracts';
import { createLogger } from '@pay/logger';
import { Broker, defineServiceEvents } from '@pay/messaging';
import type { ApiClient } from '@pay/client';
import { testAmqpUrl } from '../support/isolation';
import { eventually, startTestStack, type TestStack } from '../support/stack';

/**
 * Nothing lost, nothing applied twice: crashes, redelivery and duplicates across real processes, with
 * two replicas of each internal service and of the callback gateway. A "payment service crash" kills
 * every replica where the claim needs the service entirely down, and one where the other must keep
 * serving.
 */
describe('reliability across processes', () => {
  let system: TestStack;
  let bob: ApiClient;
  let auditor: ApiClient;

  beforeAll(async () => {
    system = await startTestStack('reliab', {}, { replicas: 2 });
    bob = system.client('bob');
    auditor = system.client('auditor-1', 'auditor');
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  });

  async function startedPayment(price = '20.00') {
    const order = await bob.createOrder({ items: [{ product_id: await system.productAt(price), quantity: 1 }] });
    const payment = await bob.createPayment({ order_id: order.id });
    await bob.startPayment(payment.id);
    return { order, payment };
  }

  async function auditedActions(paymentOrOrder: { payment_id?: string; order_id?: string }) {
    const page = await auditor.getAuditEvents({ ...paymentOrOrder, page_size: 100 });
    return page.results.map((record) => record.action as string);
  }

  /** Two audit replicas append in either order: wait until every awaited action is recorded, not just the last one expected. */
  async function untilAudited(paymentOrOrder: { payment_id?: string; order_id?: string }, awaited: string[]) {
    await eventually(`audited ${awaited.join(', ')}`, async () => {
      const actions = await auditedActions(paymentOrOrder);
      return awaited.every((action) => actions.includes(action));
    });
  }

  /** SIGKILL every payment-service replica at once: the service as a whole is down. */
  async function crashPaymentService() {
    const replicas = system.stack.replicas['payment-service'];
    expect(replicas).toHaveLength(2);
    await Promise.all(replicas.map((replica) => replica.stop('SIGKILL')));
  }

  // A crash at a chosen moment inside a service (after its write, after its publish, after its handler,
  // after the callback's confirm) is test/e2e/fault-points.test.ts; here the service is down before the
  // callback arrives, a moment this test controls.
  it('ends the order paid exactly once when the callback is accepted while the payment service is down', async () => {
    const { order, payment } = await startedPayment();
    // The payment's own events must have left its outbox before the crash (the callback gateway learns
    // the payment from payment.created); what is under test is the callback's effect.
    await eventually('payment events published', async () => (await auditedActions({ payment_id: payment.id })).includes('payment_processing'));
    await crashPaymentService();

    // Accepted while the payment service is down: the verified notification waits in its durable queue.
    const answer = await system.callback({ provider: 'wechatpay', paymentId: payment.id, amountMinor: 2000, status: 'SUCCESS', transactionId: 'txn-crash-1' });
    expect(answer.status).toBe(200);
    expect((await bob.getOrder(order.id)).status).toBe('pending_payment');

    await system.stack.restart('payment-service');
    await eventually('order paid after restart', async () => (await bob.getOrder(order.id)).status === 'paid');

    const detail = await bob.getPaymentDetail(payment.id);
    expect(detail.logs.filter((entry) => entry.event === 'succeeded')).toHaveLength(1);
    await untilAudited({ order_id: order.id }, ['payment_succeeded', 'order_paid']);
    const actions = await auditedActions({ order_id: order.id });
    expect(actions.filter((a) => a === 'payment_succeeded')).toHaveLength(1);
    expect(actions.filter((a) => a === 'order_paid')).toHaveLength(1);
  });

  it('keeps the API up when one backend is entirely down: its routes answer 503, the others serve, the gateway stays ready', async () => {
    const replicas = system.stack.replicas['audit-service'];
    await Promise.all(replicas.map((replica) => replica.stop('SIGKILL')));
    try {
      const gateway = system.stack.gatewayUrl;
      expect((await fetch(`${gateway}/readyz`)).status).toBe(200);
      await expect(auditor.getAuditEvents({ page_size: 1 })).rejects.toMatchObject({ status: 503, body: { error: { code: 'unavailable' } } });
      expect((await bob.getOrders()).count).toBeGreaterThanOrEqual(0);
      const { payment } = await startedPayment('27.00');
      expect(payment.status).toBe('init');
    } finally {
      await system.stack.restart('audit-service');
    }
    await eventually('audit serving again', async () => (await auditor.getAuditEvents({ page_size: 1 })).count >= 0);
  });

  it('keeps serving through the other replica when one payment-service replica dies, and applies its callbacks once', async () => {
    await system.stack.stopReplica('payment-service', 0, 'SIGKILL');
    try {
      // Every call through the gateway is answered: a request for the dead replica is refused at connect
      // and goes to the live one (creates included: they never reached the dead one).
      const { order, payment } = await startedPayment('25.00');
      // One live payment per order, whichever replica answers.
      await expect(bob.createPayment({ order_id: order.id })).rejects.toMatchObject({ status: 409 });
      const answer = await system.callback({ provider: 'wechatpay', paymentId: payment.id, amountMinor: 2500, status: 'SUCCESS', transactionId: 'txn-one-down' });
      expect(answer.status).toBe(200);
      await eventually('paid with one replica down', async () => (await bob.getOrder(order.id)).status === 'paid');
      expect((await bob.getPaymentDetail(payment.id)).logs.filter((entry) => entry.event === 'succeeded')).toHaveLength(1);
      for (let i = 0; i < 4; i += 1) expect((await bob.getPayments({ order_id: order.id })).count).toBe(1);
    } finally {
      await system.stack.restartReplica('payment-service', 0);
    }
    // Back to two: both serve again.
    const { order, payment } = await startedPayment('26.00');
    expect((await system.callback({ provider: 'wechatpay', paymentId: payment.id, amountMinor: 2600, status: 'SUCCESS' })).status).toBe(200);
    await eventually('paid after the replica is back', async () => (await bob.getOrder(order.id)).status === 'paid');
    await untilAudited({ payment_id: payment.id }, ['payment_succeeded']);
    expect((await auditedActions({ payment_id: payment.id })).filter((a) => a === 'payment_succeeded')).toHaveLength(1);
  });

  it('applies the same callback delivered twice once', async () => {
    const { order, payment } = await startedPayment('30.00');
    const notificationId = `ntf-${randomUUID()}`;
    const first = await system.callback({ provider: 'wechatpay', paymentId: payment.id, amountMinor: 3000, status: 'SUCCESS', notificationId, transactionId: 'txn-dup' });
    const again = await system.callback({ provider: 'wechatpay', paymentId: payment.id, amountMinor: 3000, status: 'SUCCESS', notificationId, transactionId: 'txn-dup' });
    expect([first.status, again.status]).toEqual([200, 200]);
    await eventually('paid', async () => (await bob.getOrder(order.id)).status === 'paid');
    await untilAudited({ payment_id: payment.id }, ['callback_verified', 'payment_succeeded']);
    const actions = await auditedActions({ payment_id: payment.id });
    expect(actions.filter((a) => a === 'callback_verified')).toHaveLength(1);
    expect(actions.filter((a) => a === 'payment_succeeded')).toHaveLength(1);
  });

  it('applies the same event delivered twice once (and a duplicate fact under a new id does not regress or double-apply)', async () => {
    const { order, payment } = await startedPayment('40.00');
    // Stands in for the payment service, so it declares what it publishes (a broker refuses anything else).
    // Under its name too: consumers accept payment.succeeded only from the payment service.
    const events = defineServiceEvents({ service: 'payment-service', emits: ['payment.succeeded'], consumes: [] });
    const broker = new Broker({ url: testAmqpUrl(), prefix: system.prefix, service: 'payment-service', events, logger: createLogger('test', 'error') });
    await broker.start();
    try {
      const event = createEvent(
        'payment.succeeded',
        { paymentId: payment.id, orderId: order.id, userId: 'bob', amountMinor: 4000, currency: 'CNY', transactionId: 'txn-evt', provider: 'mock', actor: 'test' },
        { producer: 'payment-service' },
      );
      await broker.publish(event);
      await broker.publish(event);
      await broker.publish({ ...event, id: randomUUID() });
    } finally {
      await broker.close();
    }
    await eventually('paid', async () => (await bob.getOrder(order.id)).status === 'paid');
    await eventually('audited', async () => (await auditedActions({ order_id: order.id })).includes('order_paid'));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const actions = await auditedActions({ order_id: order.id });
    expect(actions.filter((a) => a === 'order_paid')).toHaveLength(1);
    expect((await bob.getOrder(order.id)).status).toBe('paid');
  });
});
