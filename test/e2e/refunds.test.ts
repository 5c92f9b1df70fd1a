import type { ApiClient } from '@pay/client';
import { createPaymentOnceOrderKnown, eventually, startTestStack, type TestStack } from '../support/stack';

/**
 * Refunds end to end through the gateway, paid and refunded at the provider simulator (WeChat Pay:
 * accepted, result notified later; Alipay: synchronous), with two replicas of every internal service.
 */
describe('refunds end to end (provider simulator, two replicas)', () => {
  let system: TestStack;
  let frank: ApiClient;
  let admin: ApiClient;
  let auditor: ApiClient;

  beforeAll(async () => {
    system = await startTestStack('refunds', { REFUND_QUERY_AFTER_S: '1' }, { replicas: 2 });
    frank = system.client('frank');
    admin = system.client('ops', 'admin');
    auditor = system.client('auditor-r', 'auditor');
  }, 180_000);

  afterAll(async () => {
    await system?.stop();
  });

  /** An order of `price`, paid at the provider through the simulator's cashier and its notification. */
  async function paidOrder(price: string, method: 'wechat' | 'alipay') {
    const order = await frank.createOrder({ items: [{ product_id: await system.productAt(price), quantity: 1 }] });
    const payment = await createPaymentOnceOrderKnown(frank, { order_id: order.id, method });
    await frank.startPayment(payment.id);
    expect((await system.sim('POST', `/sim/orders/${payment.id}/pay`, {})).status).toBe(200);
    await eventually('order paid', async () => (await frank.getOrder(order.id)).status === 'paid');
    return { order, payment };
  }

  const orderStatus = (orderId: string, wanted: string) => eventually(`order ${wanted}`, async () => (await frank.getOrder(orderId)).status === wanted);
  const refundStatus = (refundId: string, wanted: string) => eventually(`refund ${wanted}`, async () => ((await admin.getRefund(refundId)).status === wanted ? true : undefined));

  it.each(['wechat', 'alipay'] as const)('%s: a full refund (no amount: the rest) ends succeeded and the order refunded', async (method) => {
    const { order, payment } = await paidOrder('20.00', method);
    const refund = await admin.createRefund(payment.id, { reason: 'damaged in transport' });
    // WeChat accepts and tells later (notification); Alipay answers at once (fund_change Y).
    expect(refund).toMatchObject({ payment_id: payment.id, order_id: order.id, amount: '20.00', currency: 'CNY', status: method === 'wechat' ? 'pending' : 'succeeded' });
    await refundStatus(refund.id, 'succeeded');
    await orderStatus(order.id, 'refunded');
    expect((await system.sim('GET', `/sim/refunds/${refund.id}`)).body).toMatchObject({ status: 'SUCCESS', amount: 2000 });
    expect(await admin.getRefunds(payment.id)).toMatchObject({ count: 1, results: [{ id: refund.id, status: 'succeeded' }] });
    await eventually('audited payment_refunded', async () => {
      const records = (await auditor.getAuditEvents({ payment_id: payment.id, action: 'payment_refunded' })).results;
      return records.length === 1 ? records : undefined;
    });
  });

  it.each(['wechat', 'alipay'] as const)('%s: two partial refunds move the order to partially_refunded, then refunded', async (method) => {
    const { order, payment } = await paidOrder('30.00', method);
    const first = await admin.createRefund(payment.id, { amount: '10.00', reason: 'one of three broken' });
    await refundStatus(first.id, 'succeeded');
    await orderStatus(order.id, 'partially_refunded');
    const rest = await admin.createRefund(payment.id, { reason: 'returned the rest' });
    expect(rest.amount).toBe('20.00');
    await refundStatus(rest.id, 'succeeded');
    await orderStatus(order.id, 'refunded');
    expect((await frank.getPaymentDetail(payment.id)).refunded_amount).toBe('30.00');
  });

  it('refuses an over-refund with 422 and sends nothing to the provider', async () => {
    const { payment } = await paidOrder('5.00', 'alipay');
    await expect(admin.createRefund(payment.id, { amount: '5.01', reason: 'too much' })).rejects.toMatchObject({ status: 422, body: { error: { code: 'refund_exceeds_paid' } } });
    expect((await system.sim('GET', `/sim/refunds/${payment.id}r01`)).status).toBe(404);
    // Customers may not refund.
    await expect(frank.createRefund(payment.id, { reason: 'myself' })).rejects.toMatchObject({ status: 403 });
  });

  it('a refund whose notification is lost ends succeeded through the refund query', async () => {
    const { order, payment } = await paidOrder('7.00', 'wechat');
    // Our refund id is known in advance (<payment id>r01): the provider will settle it but never notify.
    expect((await system.sim('POST', `/sim/refunds/${payment.id}r01/outcome`, { status: 'SUCCESS', notify: 'never' })).status).toBeLessThan(300);
    const refund = await admin.createRefund(payment.id, { reason: 'lost notification' });
    await refundStatus(refund.id, 'succeeded');
    expect((await admin.getRefund(refund.id)).logs.at(-1)).toMatchObject({ to: 'succeeded', actor: 'system:refund-query' });
    await orderStatus(order.id, 'refunded');
  });

  it('a WeChat REFUND.ABNORMAL leaves the refund needs_attention', async () => {
    const { order, payment } = await paidOrder('8.00', 'wechat');
    await system.sim('POST', `/sim/refunds/${payment.id}r01/outcome`, { status: 'ABNORMAL' });
    const refund = await admin.createRefund(payment.id, { reason: 'card closed' });
    await refundStatus(refund.id, 'needs_attention');
    expect((await frank.getOrder(order.id)).status).toBe('paid');
  });

  it('the same Idempotency-Key answers the first refund; with another body it is refused', async () => {
    const { payment } = await paidOrder('9.00', 'alipay');
    const first = await admin.createRefund(payment.id, { amount: '1.00', reason: 'retry me' }, 'refund-e2e-key-1');
    const again = await admin.createRefund(payment.id, { amount: '1.00', reason: 'retry me' }, 'refund-e2e-key-1');
    expect(again.id).toBe(first.id);
    await expect(admin.createRefund(payment.id, { amount: '2.00', reason: 'retry me' }, 'refund-e2e-key-1')).rejects.toMatchObject({ status: 422 });
    expect((await admin.getRefunds(payment.id)).count).toBe(1);
  });

  it('20 concurrent partial refunds through two replicas never exceed the paid amount', async () => {
    const { payment } = await paidOrder('10.00', 'alipay');
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => admin.createRefund(payment.id, { amount: '1.00', reason: 'burst' })));
    for (const outcome of outcomes) if (outcome.status === 'rejected') expect([409, 422]).toContain((outcome.reason as { status: number }).status);
    const refunds = (await admin.getRefunds(payment.id, { page_size: 100 })).results;
    const total = refunds.filter((refund) => refund.status !== 'failed').reduce((sum, refund) => sum + Math.round(Number(refund.amount) * 100), 0);
    expect(total).toBeLessThanOrEqual(1000);
    expect(refunds.length).toBe(outcomes.filter((outcome) => outcome.status === 'fulfilled').length);
    // The provider paid out exactly what we recorded as succeeded, never more (its ledger: amount in fen).
    let atProvider = 0;
    for (const refund of refunds) {
      const ledger = await system.sim('GET', `/sim/refunds/${refund.id}`);
      if (ledger.status === 200 && (ledger.body as { status: string }).status === 'SUCCESS') atProvider += (ledger.body as { amount: number }).amount;
    }
    const succeeded = refunds.filter((refund) => refund.status === 'succeeded').length * 100;
    expect(atProvider).toBeLessThanOrEqual(1000);
    expect(atProvider).toBeGreaterThanOrEqual(succeeded);
  });

  it('a late success is refunded from the same API', async () => {
    const order = await frank.createOrder({ items: [{ product_id: await system.productAt('4.00'), quantity: 1 }] });
    const payment = await createPaymentOnceOrderKnown(frank, { order_id: order.id, method: 'wechat' });
    await frank.startPayment(payment.id);
    // Paid, the notification slow; the payment is expired meanwhile: the close finds the money taken.
    await system.sim('POST', `/sim/orders/${payment.id}/pay`, { notify: 'never' });
    expect(await admin.expirePayment(payment.id)).toMatchObject({ status: 'expired', late_success: true });
    const refund = await admin.createRefund(payment.id, { reason: 'paid after expiry' });
    expect(refund.amount).toBe('4.00');
    await refundStatus(refund.id, 'succeeded');
    expect((await frank.getOrder(order.id)).status).toBe('pending_payment'); // the order was never paid by it
  });

  it('a duplicate payment is flagged, refunded from the same API, and with the late success leaves reconciliation clean', async () => {
    const { order, payment } = await paidOrder('6.00', 'wechat');
    // WeChat reports a second, different transaction for the same payment: money taken twice.
    const second = await system.callback({ provider: 'wechatpay', paymentId: payment.id, amountMinor: 600, status: 'SUCCESS', transactionId: 'wx-second-charge' });
    expect(second).toMatchObject({ status: 200 });
    await eventually('duplicate flagged', async () => ((await frank.getPaymentDetail(payment.id)).duplicate_transactions.includes('wx-second-charge') ? true : undefined));
    const refund = await admin.createRefund(payment.id, { amount: '6.00', reason: 'charged twice' });
    await refundStatus(refund.id, 'succeeded');
    // The duplicate went back: the order, paid once, stays paid.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await frank.getOrder(order.id)).status).toBe('paid');

    const today = new Date().toISOString().slice(0, 10);
    const report = await eventually('reconciliation clean', async () => {
      const current = (await auditor.getDailyReport(today)) as { reconciliation: Record<string, { payment_id: string }[]> };
      const { late_successes, duplicate_payments, payments_succeeded_without_order_paid, refunded_in_full } = current.reconciliation;
      const clean = late_successes!.length === 0 && duplicate_payments!.length === 0 && payments_succeeded_without_order_paid!.length === 0;
      return clean && refunded_in_full!.some((item) => item.payment_id === payment.id) ? current : undefined;
    });
    expect(report.reconciliation.orders_paid_without_payment_succeeded).toEqual([]);
    // The late success refunded in the test before is listed as refunded in full, not open.
    expect(report.reconciliation.refunded_in_full!.length).toBeGreaterThanOrEqual(2);
  });
});
