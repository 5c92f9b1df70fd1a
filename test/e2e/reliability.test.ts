import { randomUUID } from 'node:crypto';
import { createEvent } from '@pay/contracts';
import { createLogger } from '@pay/logger';
import { Broker } from '@pay/messaging';
import type { ApiClient } from '@pay/client';
import { testAmqpUrl } from '../support/isolation';
import { eventually, startTestStack, type TestStack } from '../support/stack';

/** Nothing lost, nothing applied twice: crashes, redelivery and duplicates across real processes. */
describe('reliability across processes', () => {
  let system: TestStack;
  let bob: ApiClient;
  let auditor: ApiClient;

  beforeAll(async () => {
    system = await startTestStack('reliab');
    bob = system.client('bob');
    auditor = system.client('auditor-1', 'auditor');
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  });

  async function startedPayment(price = '20.00') {
    const order = await bob.createOrder({ items: [{ product_id: 'x', name: 'Thing', unit_price: price, quantity: 1 }] });
    const payment = await bob.createPayment({ order_id: order.id });
    await bob.startPayment(payment.id);
    return { order, payment };
  }

  async function auditedActions(paymentOrOrder: { payment_id?: string; order_id?: string }) {
    const page = await auditor.getAuditEvents({ ...paymentOrOrder, page_size: 100 });
    return page.results.map((record) => record.action as string);
  }

  it('ends the order paid exactly once when the payment service dies between callback accepted and order paid', async () => {
    const { order, payment } = await startedPayment();
    // The payment's own events must have left its outbox before the crash (the callback gateway learns
    // the payment from payment.created); what is under test is the callback's effect.
    await eventually('payment events published', async () => (await auditedActions({ payment_id: payment.id })).includes('payment_processing'));
    await system.stack.services['payment-service'].stop('SIGKILL');

    // Accepted while the payment service is down: the verified notification waits in its durable queue.
    const answer = await system.callback({ provider: 'mock', paymentId: payment.id, amountMinor: 2000, status: 'SUCCESS', transactionId: 'txn-crash-1' });
    expect(answer.status).toBe(200);
    expect((await bob.getOrder(order.id)).status).toBe('pending_payment');

    await system.stack.restart('payment-service');
    await eventually('order paid after restart', async () => (await bob.getOrder(order.id)).status === 'paid');

    // A second crash right after a success is applied must not re-apply it either.
    const second = await startedPayment('21.00');
    const accepted = await system.callback({ provider: 'mock', paymentId: second.payment.id, amountMinor: 2100, status: 'SUCCESS' });
    expect(accepted.status).toBe(200);
    await system.stack.services['payment-service'].stop('SIGKILL');
    await system.stack.restart('payment-service');
    await eventually('second order paid', async () => (await bob.getOrder(second.order.id)).status === 'paid');

    for (const { order: o, payment: p } of [{ order, payment }, second]) {
      const detail = await bob.getPaymentDetail(p.id);
      expect(detail.logs.filter((entry) => entry.event === 'succeeded')).toHaveLength(1);
      await eventually('audit complete', async () => (await auditedActions({ order_id: o.id })).includes('order_paid'));
      const actions = await auditedActions({ order_id: o.id });
      expect(actions.filter((a) => a === 'payment_succeeded')).toHaveLength(1);
      expect(actions.filter((a) => a === 'order_paid')).toHaveLength(1);
    }
  });

  it('applies the same callback delivered twice once', async () => {
    const { order, payment } = await startedPayment('30.00');
    const notificationId = `ntf-${randomUUID()}`;
    const first = await system.callback({ provider: 'mock', paymentId: payment.id, amountMinor: 3000, status: 'SUCCESS', notificationId, transactionId: 'txn-dup' });
    const again = await system.callback({ provider: 'mock', paymentId: payment.id, amountMinor: 3000, status: 'SUCCESS', notificationId, transactionId: 'txn-dup' });
    expect([first.status, again.status]).toEqual([200, 200]);
    await eventually('paid', async () => (await bob.getOrder(order.id)).status === 'paid');
    await eventually('audited', async () => (await auditedActions({ order_id: order.id })).includes('order_paid'));
    const actions = await auditedActions({ payment_id: payment.id });
    expect(actions.filter((a) => a === 'callback_verified')).toHaveLength(1);
    expect(actions.filter((a) => a === 'payment_succeeded')).toHaveLength(1);
  });

  it('applies the same event delivered twice once (and a duplicate fact under a new id does not regress or double-apply)', async () => {
    const { order, payment } = await startedPayment('40.00');
    const broker = new Broker({ url: testAmqpUrl(), prefix: system.prefix, service: 'test-publisher', logger: createLogger('test', 'error') });
    await broker.start();
    try {
      const event = createEvent(
        'payment.succeeded',
        { paymentId: payment.id, orderId: order.id, userId: 'bob', amountMinor: 4000, currency: 'CNY', transactionId: 'txn-evt', provider: 'mock', actor: 'test' },
        { producer: 'test' },
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
