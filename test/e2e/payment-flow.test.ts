import { ApiError, type ApiClient } from '@pay/client';
import { eventually, startTestStack, type TestStack } from '../support/stack';

/**
 * The walking skeleton: five services as processes, real broker, real MongoDB-compatible server,
 * driven over HTTP only — customer order → payment → start → signed provider callback → payment
 * succeeded → payment.succeeded → order paid → every event audited. Two replicas of every internal
 * service and of the callback gateway (the api-gateway and the callback balancer spread the requests
 * over them), so the flow is proven as it runs when scaled out.
 */
describe('a payment flowing end to end', () => {
  let system: TestStack;
  let alice: ApiClient;
  let auditor: ApiClient;

  beforeAll(async () => {
    system = await startTestStack('flow', {}, { replicas: 2 });
    alice = system.client('alice');
    auditor = system.client('auditor-1', 'auditor');
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  });

  it('pays an order through a signed mock callback and audits every event', async () => {
    const order = await alice.createOrder({ items: [{ product_id: await system.productAt('49.50'), quantity: 2 }] });
    expect(order).toMatchObject({ status: 'pending_payment', total_amount: '99.00', currency: 'CNY', user_id: 'alice' });
    expect(order.order_number).toMatch(/^ORD-\d{8}-[2-9A-Z]{8}$/);

    // bank_card is paid through the mock provider (the original HMAC scheme), enabled in tests only.
    const payment = await alice.createPayment({ order_id: order.id, amount: '99.00', method: 'bank_card' });
    expect(payment).toMatchObject({ status: 'init', amount: '99.00', method: 'bank_card', order_id: order.id });
    const started = await alice.startPayment(payment.id);
    expect(started).toMatchObject({ status: 'processing', provider: 'mock', channel: 'mock', pay_params: { cashier_url: expect.any(String) } });

    const answer = await system.callback({ provider: 'mock', paymentId: payment.id, amountMinor: 9900, status: 'SUCCESS', transactionId: 'txn-e2e-1' });
    expect(answer).toEqual({ status: 200, body: '{"code":"SUCCESS"}' });

    const paid = await eventually('order paid', async () => {
      const current = await alice.getOrder(order.id);
      return current.status === 'paid' ? current : undefined;
    });
    expect(paid.status).toBe('paid');

    const succeeded = await alice.getPaymentDetail(payment.id);
    expect(succeeded.status).toBe('succeeded');
    expect(succeeded.transaction_id).toBe('txn-e2e-1');
    expect(succeeded.logs.map((entry) => [entry.event, entry.from, entry.to])).toEqual([
      ['created', null, 'init'],
      ['started', 'init', 'processing'],
      ['succeeded', 'processing', 'succeeded'],
    ]);
    expect(succeeded.logs[2]?.actor).toBe('provider');
    expect((await auditor.getPaymentDetail(payment.id)).logs[2]?.actor).toBe('provider:mock');

    const expected = ['order_created', 'payment_created', 'payment_processing', 'callback_verified', 'payment_verified', 'payment_succeeded', 'order_paid'];
    // callback.verified knows only the payment; every other event of the flow names the order.
    const records = await eventually('all events audited', async () => {
      const byOrder = await auditor.getAuditEvents({ order_id: order.id, page_size: 100 });
      const byPayment = await auditor.getAuditEvents({ payment_id: payment.id, action: 'callback_verified' });
      const all = [...byOrder.results, ...byPayment.results];
      const actions = all.map((record) => record.action as string);
      return expected.every((action) => actions.includes(action)) ? all : undefined;
    });
    expect(records.map((record) => record.action).sort()).toEqual([...expected].sort());
    // Each event stored once.
    const ids = records.map((record) => record.id);
    expect(new Set(ids).size).toBe(ids.length);
    const verification = await auditor.verifyAudit();
    expect(verification.ok).toBe(true);
  });

  it('refuses a tampered callback and audits it as signature_verification_failed', async () => {
    const order = await alice.createOrder({ items: [{ product_id: await system.productAt('10.00'), quantity: 1 }] });
    const payment = await alice.createPayment({ order_id: order.id });
    await alice.startPayment(payment.id);

    const answer = await system.callback({ provider: 'wechatpay', paymentId: payment.id, amountMinor: 1000, status: 'SUCCESS', tamper: true });
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'FAIL' });

    await eventually('signature failure audited', async () => {
      const page = await auditor.getAuditEvents({ action: 'signature_verification_failed', page_size: 100 });
      return page.count > 0 ? page : undefined;
    });
    expect((await alice.getPaymentDetail(payment.id)).status).toBe('processing');
  });

  it('hides another customer’s order and payment (404)', async () => {
    const order = await alice.createOrder({ items: [{ product_id: await system.productAt('3.00'), quantity: 1 }] });
    const payment = await alice.createPayment({ order_id: order.id });
    const mallory = system.client('mallory');
    await expect(mallory.getOrder(order.id)).rejects.toMatchObject({ status: 404 });
    await expect(mallory.getPaymentDetail(payment.id)).rejects.toMatchObject({ status: 404 });
    await expect(mallory.createPayment({ order_id: order.id })).rejects.toBeInstanceOf(ApiError);
  });

  // Last in this file: it ends the stack.
  it('stops every replica of every service gracefully on SIGTERM (exit code 0)', async () => {
    const names = ['api-gateway', 'callback-gateway', 'payment-service', 'order-service', 'audit-service'] as const;
    expect(system.stack.replicas['payment-service']).toHaveLength(2);
    for (const name of names) {
      for (const replica of system.stack.replicas[name]) {
        expect({ name, replica: replica.replica, code: await replica.stop('SIGTERM') }).toEqual({ name, replica: replica.replica, code: 0 });
      }
    }
  });
});
