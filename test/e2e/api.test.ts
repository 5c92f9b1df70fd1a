import { ApiError, type ApiClient } from '@pay/client';
import type { OrderView, PaymentView } from '@pay/contracts';
import { eventually, startTestStack, type TestStack } from '../support/stack';

/**
 * The public REST API through the gateway, driven with the typed client the frontend uses (the original
 * `payment.ts` names): paying, retrying, expiry with a late provider success, cancellation, ownership,
 * roles, paging, and the one-live-payment rule under a concurrent burst.
 */
describe('the public payments API through the gateway', () => {
  let system: TestStack;
  let alice: ApiClient;
  let admin: ApiClient;
  let auditor: ApiClient;

  beforeAll(async () => {
    // Every simulated customer calls from 127.0.0.1: lift the per-IP limit (the per-user one stays).
    system = await startTestStack('api', { RATE_LIMIT_PER_IP: '5000' });
    alice = system.client('alice');
    admin = system.client('ops-1', 'admin');
    auditor = system.client('auditor-1', 'auditor');
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  });

  async function placeOrder(customer: ApiClient, unitPrice = '25.00', quantity = 1): Promise<OrderView> {
    return customer.createOrder({ items: [{ product_id: await system.productAt(unitPrice), quantity }] });
  }

  async function refusal(call: Promise<unknown>): Promise<{ status: number; code: string | undefined }> {
    try {
      await call;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      return { status: error.status, code: error.code };
    }
    throw new Error('expected the call to be refused');
  }

  async function statusOf(customer: ApiClient, paymentId: string, wanted: string): Promise<PaymentView> {
    return eventually(`payment ${wanted}`, async () => {
      const payment = await customer.getPaymentDetail(paymentId);
      return payment.status === wanted ? payment : undefined;
    });
  }

  it('answers with views whose fields are exactly the client types', async () => {
    const order = await placeOrder(alice, '12.34', 2);
    const payment = await alice.createPayment({ order_id: order.id, method: 'alipay', amount: '24.68' });
    const orderFields = { id: 1, order_number: 1, user_id: 1, items: 1, total_amount: 1, currency: 1, status: 1, created_at: 1, updated_at: 1 } satisfies Record<keyof OrderView, 1>;
    const paymentFields = {
      id: 1, order_id: 1, user_id: 1, amount: 1, currency: 1, method: 1, status: 1, created_at: 1, updated_at: 1, expires_at: 1, transaction_id: 1, late_success: 1, provider: 1, channel: 1, pay_params: 1, refunded_amount: 1, duplicate_transactions: 1, logs: 1,
    } satisfies Record<keyof PaymentView, 1>;
    expect(Object.keys(order).sort()).toEqual(Object.keys(orderFields).sort());
    expect(Object.keys(payment).sort()).toEqual(Object.keys(paymentFields).sort());
    expect(order.items).toEqual([{ product_id: await system.productAt('12.34'), name: 'Item at 12.34', unit_price: '12.34', quantity: 2 }]);
    expect(payment).toMatchObject({ amount: '24.68', currency: 'CNY', method: 'alipay', status: 'init', transaction_id: null, late_success: false, user_id: 'alice' });
    // expires_at is required and defaults to 30 minutes after creation.
    expect(Date.parse(payment.expires_at) - Date.parse(payment.created_at)).toBe(30 * 60_000);
  });

  it('pays an order: create → start → provider success → payment succeeded, order paid', async () => {
    const order = await placeOrder(alice, '88.80');
    const payment = await alice.createPayment({ order_id: order.id });
    expect(await alice.startPayment(payment.id)).toMatchObject({ status: 'processing' });
    const answer = await system.callback({ provider: 'wechatpay', paymentId: payment.id, amountMinor: 8880, status: 'SUCCESS', transactionId: 'txn-api-pay' });
    expect(answer.status).toBe(200);
    const paid = await statusOf(alice, payment.id, 'succeeded');
    expect(paid.transaction_id).toBe('txn-api-pay');
    await eventually('order paid', async () => (await alice.getOrder(order.id)).status === 'paid');
  });

  it('lets a new payment succeed after a failed attempt on the same order', async () => {
    const order = await placeOrder(alice, '15.00');
    const first = await alice.createPayment({ order_id: order.id });
    await alice.startPayment(first.id);
    // While the first attempt is live no second one may start.
    expect(await refusal(alice.createPayment({ order_id: order.id }))).toEqual({ status: 409, code: 'live_payment_exists' });

    await system.callback({ provider: 'wechatpay', paymentId: first.id, amountMinor: 1500, status: 'FAILED' });
    await statusOf(alice, first.id, 'failed');
    expect((await alice.getOrder(order.id)).status).toBe('pending_payment');

    const retry = await alice.createPayment({ order_id: order.id });
    expect(retry.id).not.toBe(first.id);
    await alice.startPayment(retry.id);
    await system.callback({ provider: 'wechatpay', paymentId: retry.id, amountMinor: 1500, status: 'SUCCESS' });
    await statusOf(alice, retry.id, 'succeeded');
    await eventually('order paid', async () => (await alice.getOrder(order.id)).status === 'paid');
    // A succeeded payment is live: a third attempt is refused.
    expect(await refusal(alice.createPayment({ order_id: order.id }))).toEqual({ status: 409, code: 'live_payment_exists' });
    expect((await alice.getPaymentDetail(first.id)).status).toBe('failed');
  });

  it('keeps an expired payment expired when the provider reports success late, flags late_success and audits it', async () => {
    const order = await placeOrder(alice, '42.00');
    const payment = await alice.createPayment({ order_id: order.id });
    await alice.startPayment(payment.id);
    expect(await admin.expirePayment(payment.id)).toMatchObject({ status: 'expired', late_success: false });

    const answer = await system.callback({ provider: 'wechatpay', paymentId: payment.id, amountMinor: 4200, status: 'SUCCESS', transactionId: 'txn-late-api' });
    expect(answer.status).toBe(200);
    const flagged = await eventually('late success flagged', async () => {
      const current = await alice.getPaymentDetail(payment.id);
      return current.late_success ? current : undefined;
    });
    expect(flagged).toMatchObject({ status: 'expired', late_success: true, transaction_id: 'txn-late-api' });
    expect(flagged.logs.map((entry) => entry.event)).toEqual(['created', 'started', 'expired', 'late_success']);

    const audited = await eventually('late success audited', async () => {
      const page = await auditor.getAuditEvents({ payment_id: payment.id, action: 'payment_late_success' });
      return page.count === 1 ? page.results[0] : undefined;
    });
    expect(audited).toMatchObject({ order_id: order.id, transaction_id: 'txn-late-api' });
    expect((await alice.getOrder(order.id)).status).toBe('pending_payment');
    // The order can still be paid with a fresh attempt.
    await expect(alice.createPayment({ order_id: order.id })).resolves.toMatchObject({ status: 'init' });
  });

  it('cancels a payment for its owner and allows a new attempt', async () => {
    const order = await placeOrder(alice, '9.90');
    const payment = await alice.createPayment({ order_id: order.id });
    const cancelled = await alice.cancelPayment(payment.id, 'changed my mind');
    expect(cancelled.status).toBe('cancelled');
    // The customer reads who acted as a kind and no free text; an admin reads the whole entry.
    expect(cancelled.logs.at(-1)).toMatchObject({ event: 'cancelled', from: 'init', to: 'cancelled', actor: 'customer', detail: null });
    expect((await admin.getPaymentDetail(payment.id)).logs.at(-1)).toMatchObject({ event: 'cancelled', actor: 'customer:alice', detail: 'changed my mind' });
    expect(await refusal(alice.cancelPayment(payment.id))).toEqual({ status: 409, code: 'illegal_transition' });
    expect(await refusal(alice.startPayment(payment.id))).toEqual({ status: 409, code: 'illegal_transition' });
    await expect(alice.createPayment({ order_id: order.id })).resolves.toMatchObject({ status: 'init' });
  });

  it('cancels the open payment of a cancelled order and refuses new payments for it (422)', async () => {
    const order = await placeOrder(alice, '19.00');
    const payment = await alice.createPayment({ order_id: order.id });
    await alice.startPayment(payment.id);
    expect(await alice.cancelOrder(order.id)).toMatchObject({ status: 'cancelled' });

    const cancelled = await statusOf(alice, payment.id, 'cancelled');
    expect(cancelled.logs.at(-1)).toMatchObject({ from: 'processing', to: 'cancelled', actor: 'system' });
    expect((await admin.getPaymentDetail(payment.id)).logs.at(-1)).toMatchObject({ from: 'processing', to: 'cancelled', actor: 'system:order-cancelled' });
    expect(await refusal(alice.createPayment({ order_id: order.id }))).toEqual({ status: 422, code: 'order_not_payable' });
    expect(await refusal(alice.cancelOrder(order.id))).toEqual({ status: 409, code: 'illegal_transition' });
  });

  it('hides another customer’s order and payment: 404 on read and on every action, nothing changes', async () => {
    const order = await placeOrder(alice, '5.00');
    const payment = await alice.createPayment({ order_id: order.id });
    const mallory = system.client('mallory');

    const notFound = { status: 404, code: 'not_found' };
    expect(await refusal(mallory.getOrder(order.id))).toEqual(notFound);
    expect(await refusal(mallory.cancelOrder(order.id))).toEqual(notFound);
    expect(await refusal(mallory.getPaymentDetail(payment.id))).toEqual(notFound);
    expect(await refusal(mallory.startPayment(payment.id))).toEqual(notFound);
    expect(await refusal(mallory.cancelPayment(payment.id))).toEqual(notFound);
    expect(await refusal(mallory.createPayment({ order_id: order.id }))).toEqual(notFound);
    // Role refusals come before any lookup, so they reveal nothing either.
    expect(await refusal(mallory.succeedPayment(payment.id))).toEqual({ status: 403, code: 'forbidden' });
    expect(await refusal(mallory.failPayment(payment.id))).toEqual({ status: 403, code: 'forbidden' });
    expect(await refusal(mallory.expirePayment(payment.id))).toEqual({ status: 403, code: 'forbidden' });
    expect((await mallory.getPayments({ order_id: order.id })).count).toBe(0);
    expect((await mallory.getOrders()).results.map((o) => o.id)).not.toContain(order.id);

    expect(await alice.getOrder(order.id)).toMatchObject({ status: 'pending_payment', updated_at: order.updated_at });
    const unchanged = await alice.getPaymentDetail(payment.id);
    expect(unchanged).toMatchObject({ status: 'init', updated_at: payment.updated_at });
    expect(unchanged.logs).toHaveLength(1);
  });

  it('lists payments page by page with next/previous links and a bounded page_size', async () => {
    const carol = system.client('carol');
    const order = await placeOrder(carol, '3.00');
    const ids: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const payment = await carol.createPayment({ order_id: order.id });
      ids.push(payment.id);
      if (attempt < 2) await carol.cancelPayment(payment.id);
    }
    const other = await placeOrder(carol, '4.00');
    await carol.createPayment({ order_id: other.id });

    const first = await carol.getPayments({ order_id: order.id, page_size: 2 });
    expect(first.count).toBe(3);
    expect(first.results).toHaveLength(2);
    expect(first.previous).toBeNull();
    expect(first.next).toBe(`/api/v1/payments?order_id=${order.id}&page_size=2&page=2`);

    const second = await carol.getPaymentsPage(first.next!);
    expect(second.count).toBe(3);
    expect(second.results).toHaveLength(1);
    expect(second.next).toBeNull();
    expect(second.previous).toBe(`/api/v1/payments?order_id=${order.id}&page_size=2&page=1`);
    expect([...first.results, ...second.results].map((p) => p.id).sort()).toEqual([...ids].sort());
    expect((await carol.getPaymentsPage(second.previous!)).results.map((p) => p.id)).toEqual(first.results.map((p) => p.id));

    // A page past the end is empty and points back to the last real page.
    const beyond = await carol.getPayments({ order_id: order.id, page: 5, page_size: 2 });
    expect(beyond).toMatchObject({ count: 3, results: [], next: null, previous: `/api/v1/payments?order_id=${order.id}&page_size=2&page=2` });

    const all = await carol.getPayments();
    expect(all.count).toBe(4);
    expect(all.results.every((p) => p.user_id === 'carol')).toBe(true);
    expect(all.next).toBeNull();
    // Admins and auditors see every customer's payments.
    expect((await auditor.getPayments({ order_id: order.id })).count).toBe(3);

    for (const params of [{ page_size: 1000 }, { page_size: 0 }, { page: 0 }, { page: -1 }]) {
      expect(await refusal(carol.getPayments(params))).toEqual({ status: 400, code: 'bad_request' });
    }
    await expect(carol.getPaymentsPage('http://elsewhere.example/api/v1/payments?page=2')).rejects.toThrow('refusing to follow');
  });

  it('refuses succeed and fail to a customer outside sandbox mode (403) and lets an admin do both', async () => {
    const order = await placeOrder(alice, '7.00');
    const payment = await alice.createPayment({ order_id: order.id });
    expect(await refusal(alice.succeedPayment(payment.id))).toEqual({ status: 403, code: 'forbidden' });
    expect(await refusal(alice.failPayment(payment.id))).toEqual({ status: 403, code: 'forbidden' });
    expect(await refusal(alice.expirePayment(payment.id))).toEqual({ status: 403, code: 'forbidden' });
    expect(await refusal(auditor.succeedPayment(payment.id))).toEqual({ status: 403, code: 'forbidden' });
    expect(await refusal(auditor.startPayment(payment.id))).toEqual({ status: 403, code: 'forbidden' });
    expect((await alice.getPaymentDetail(payment.id)).status).toBe('init');

    await alice.startPayment(payment.id);
    const succeeded = await admin.succeedPayment(payment.id);
    expect(succeeded).toMatchObject({ status: 'succeeded', transaction_id: expect.stringMatching(/^manual-/) });
    expect(succeeded.logs.at(-1)).toMatchObject({ from: 'processing', to: 'succeeded', actor: 'admin:ops-1' });
    await eventually('order paid', async () => (await alice.getOrder(order.id)).status === 'paid');
    // Idempotent: the same answer again, no second success.
    const again = await admin.succeedPayment(payment.id);
    expect(again.logs.filter((entry) => entry.event === 'succeeded')).toHaveLength(1);

    const failing = await alice.createPayment({ order_id: (await placeOrder(alice, '8.00')).id });
    await alice.startPayment(failing.id);
    expect(await admin.failPayment(failing.id)).toMatchObject({ status: 'failed' });
    expect(await refusal(admin.expirePayment('no-such-payment'))).toEqual({ status: 404, code: 'not_found' });
  });

  it('places one order per Idempotency-Key: retries (even concurrent) get the first order, another body is refused (422)', async () => {
    const create = async (key: string | null, unitPrice = '12.00') =>
      fetch(`${system.stack.gatewayUrl}/api/v1/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${system.token('idem-user')}`, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
        body: JSON.stringify({ items: [{ product_id: await system.productAt(unitPrice), quantity: 1 }] }),
      });
    const key = `checkout-${Date.now()}`;
    const answers = await Promise.all(Array.from({ length: 10 }, () => create(key)));
    const bodies = (await Promise.all(answers.map((answer) => answer.json()))) as OrderView[];
    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(201));
    expect(new Set(bodies.map((order) => order.id)).size).toBe(1);
    expect(answers.filter((answer) => answer.headers.get('idempotent-replayed') === 'true')).toHaveLength(9);

    const reused = await create(key, '13.00');
    expect(reused.status).toBe(422);
    expect(await reused.json()).toMatchObject({ error: { code: 'idempotency_key_reused' } });
    expect((await create('bad key!')).status).toBe(400);

    // Without a key every request is a new order; the key is scoped to its customer.
    await create(null);
    await create(null);
    const orders = await system.client('idem-user').getOrders({ page_size: 100 });
    expect(orders.count).toBe(3);
  });

  it('creates exactly one payment out of 60 concurrent creates for one order; the rest get 409 live_payment_exists', async () => {
    const dave = system.client('dave');
    const order = await placeOrder(dave, '60.00');
    const outcomes = await Promise.allSettled(Array.from({ length: 60 }, () => dave.createPayment({ order_id: order.id })));
    const created = outcomes.filter((outcome): outcome is PromiseFulfilledResult<PaymentView> => outcome.status === 'fulfilled');
    const refused = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    expect(created).toHaveLength(1);
    expect(refused.map((outcome) => [(outcome.reason as ApiError).status, (outcome.reason as ApiError).code])).toEqual(
      Array.from({ length: 59 }, () => [409, 'live_payment_exists']),
    );
    const listed = await dave.getPayments({ order_id: order.id });
    expect(listed.count).toBe(1);
    expect(listed.results[0]?.id).toBe(created[0]?.value.id);
  });
});
