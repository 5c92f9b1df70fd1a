import { createPublicKey, verify } from 'node:crypto';
import type { ApiClient } from '@pay/client';
import { createPaymentOnceOrderKnown, eventually, startTestStack, type TestStack } from '../support/stack';

/**
 * Paying at the provider, end to end through the public API: the payment service opens the order at
 * the provider simulator (WeChat Pay v3 and Alipay as they behave, signed both ways), the simulator's
 * cashier is paid through its control API, and its signed notification reaches the callback gateway.
 */
describe('paying at the provider (simulator) end to end', () => {
  let system: TestStack;
  let erin: ApiClient;
  let admin: ApiClient;

  beforeAll(async () => {
    system = await startTestStack('providers');
    erin = system.client('erin');
    admin = system.client('ops', 'admin');
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  });

  async function createdPayment(price: string, method: 'wechat' | 'alipay' | 'bank_card') {
    const order = await erin.createOrder({ items: [{ product_id: await system.productAt(price), quantity: 1 }] });
    const payment = await createPaymentOnceOrderKnown(erin, { order_id: order.id, method });
    return { order, payment };
  }

  const simOrder = async (paymentId: string) => (await system.sim('GET', `/sim/orders/${paymentId}`)).body as { status?: string; trade_state?: string; [key: string]: unknown };
  const orderPaid = (orderId: string) => eventually(`order ${orderId} paid`, async () => (await erin.getOrder(orderId)).status === 'paid');

  it.each([
    ['wechat', 'native', 'code_url'],
    ['alipay', 'precreate', 'qr_code'],
    ['bank_card', 'mock', 'cashier_url'],
  ] as const)('%s: start opens the provider order (%s → %s), the cashier pays, the notification pays the order', async (method, channel, param) => {
    const { order, payment } = await createdPayment('12.34', method);
    const started = await erin.startPayment(payment.id);
    expect(started).toMatchObject({ status: 'processing', channel, pay_params: { [param]: expect.any(String) } });
    // Starting again answers the same provider order (the simulator saw one order).
    const again = await erin.startPayment(payment.id);
    expect(again.pay_params).toEqual(started.pay_params);

    const paid = await system.sim('POST', `/sim/orders/${payment.id}/pay`, {});
    expect(paid.status).toBe(200);
    await orderPaid(order.id);
    const detail = await erin.getPaymentDetail(payment.id);
    expect(detail.status).toBe('succeeded');
    expect(detail.transaction_id).toEqual(expect.any(String));
    expect(detail.logs.filter((entry) => entry.event === 'succeeded')).toHaveLength(1);
    expect(detail.pay_params).toBeNull(); // nothing left to pay
  });

  it("wechat jsapi: pay_params are what wx.requestPayment takes, paySign verifying with the merchant's public key", async () => {
    const { payment } = await createdPayment('3.21', 'wechat');
    const started = await erin.startPayment(payment.id, { channel: 'jsapi', payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } });
    const params = started.pay_params as { appId: string; timeStamp: string; nonceStr: string; package: string; signType: string; paySign: string };
    expect(params).toMatchObject({ appId: system.secrets.session.wechatpay.appid, signType: 'RSA', package: expect.stringMatching(/^prepay_id=.+/) });
    const merchantPublicKey = createPublicKey(system.secrets.simulatorEnv.PROVIDER_SIM_WECHATPAY_MERCHANT_PUBLIC_KEY!);
    const message = `${params.appId}\n${params.timeStamp}\n${params.nonceStr}\n${params.package}\n`;
    expect(verify('sha256', Buffer.from(message), merchantPublicKey, Buffer.from(params.paySign, 'base64'))).toBe(true);
    // A channel needing a payer without one is refused at the edge.
    const other = await createdPayment('3.22', 'wechat');
    await expect(erin.startPayment(other.payment.id, { channel: 'jsapi' })).rejects.toMatchObject({ status: 400 });
  });

  it.each(['wechat', 'alipay'] as const)('%s: a payment whose notification never comes ends succeeded through the provider query', async (method) => {
    const { order, payment } = await createdPayment('7.00', method);
    await erin.startPayment(payment.id);
    expect((await system.sim('POST', `/sim/orders/${payment.id}/pay`, { notify: 'never' })).status).toBe(200);
    await orderPaid(order.id);
    const detail = await admin.getPaymentDetail(payment.id);
    expect(detail.logs.find((entry) => entry.event === 'succeeded')).toMatchObject({ actor: 'system:provider-query' });
  });

  it('expiry closes the provider order, and a pay attempt after it fails at the simulator', async () => {
    const { payment } = await createdPayment('8.00', 'wechat');
    await erin.startPayment(payment.id);
    const expired = await admin.expirePayment(payment.id);
    expect(expired).toMatchObject({ status: 'expired', late_success: false });
    expect(await simOrder(payment.id)).toMatchObject({ status: 'CLOSED' });
    const attempt = await system.sim('POST', `/sim/orders/${payment.id}/pay`, {});
    expect(attempt.status).toBe(409);
  });

  it('paid while closing: the cancel finds the money taken and the payment ends late_success', async () => {
    const { order, payment } = await createdPayment('9.00', 'alipay');
    await erin.startPayment(payment.id);
    // The customer pays, the notification is slow; meanwhile the customer cancels.
    expect((await system.sim('POST', `/sim/orders/${payment.id}/pay`, { notify: 'delay_s:600' })).status).toBe(200);
    const cancelled = await erin.cancelPayment(payment.id, 'changed my mind');
    expect(cancelled).toMatchObject({ status: 'cancelled', late_success: true });
    expect((await erin.getOrder(order.id)).status).toBe('pending_payment');
  });

  it('refuses a mock notification for a wechat payment (the provider is the payment method)', async () => {
    const { order, payment } = await createdPayment('10.00', 'wechat');
    await erin.startPayment(payment.id);
    const forged = await system.callback({ provider: 'mock', paymentId: payment.id, amountMinor: 1000, status: 'SUCCESS' });
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(forged.status).toBeLessThan(500);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await erin.getPaymentDetail(payment.id)).status).toBe('processing');
    expect((await erin.getOrder(order.id)).status).toBe('pending_payment');
  });
});
