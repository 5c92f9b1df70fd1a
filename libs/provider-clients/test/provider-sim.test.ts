import { randomBytes } from 'node:crypto';
import { type ProviderSim, startProviderSim } from '@pay/provider-sim';
import {
  type OpenRequest,
  type PayChannel,
  type ProviderClient,
  type ProviderName,
  createAlipayClient,
  createMockClient,
  createWechatpayClient,
} from '../src';
import { rsaPair } from './support/capture-server';
import { rejection } from './support/rejection';

/** Each adapter against the provider simulator (tools/provider-sim): signed both ways, its ledger, its faults. */

const wechatMerchant = rsaPair();
const wechatPlatform = rsaPair();
const alipayApp = rsaPair();
const alipayOwn = rsaPair();
const stranger = rsaPair();
const mockSecret = randomBytes(24).toString('hex');
const wechat = { mchid: '1900000109', appid: 'wxd678efh567hg6787', merchantSerial: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1', platformSerial: 'PUB_KEY_ID_0114232134912410000000000000' };
const alipayAppId = '2021000122671080';
// Nothing listens there: the simulator's notifications to it fail quietly (tests pay with notify "never").
const notifyUrl = 'http://127.0.0.1:9/callbacks';

let sim: ProviderSim;
beforeAll(async () => {
  sim = await startProviderSim({
    timeScale: 0.01,
    wechatpay: { ...wechat, apiV3Key: randomBytes(16).toString('hex'), platformPrivateKey: wechatPlatform.privateKey, merchantPublicKey: wechatMerchant.publicKey },
    alipay: { appId: alipayAppId, privateKey: alipayOwn.privateKey, appPublicKey: alipayApp.publicKey },
    mock: { secret: mockSecret },
  });
});
afterAll(async () => {
  await sim.close();
});
afterEach(async () => {
  await control('DELETE', '/sim/faults');
});

async function control(method: 'GET' | 'POST' | 'DELETE', path: string, body?: object): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : (JSON.parse(text) as Record<string, unknown>) };
}

type ClientOptions = { timeoutMs?: number; wrongKey?: boolean };

interface ProviderCase {
  provider: ProviderName;
  client(options?: ClientOptions): ProviderClient;
  payer: OpenRequest['payer'];
  channels: PayChannel[];
  /** A channel whose order exists at the provider from the moment it is opened. */
  immediateChannel: PayChannel;
}

const cases: ProviderCase[] = [
  {
    provider: 'wechatpay',
    client: (options = {}) =>
      createWechatpayClient({
        ...wechat,
        merchantPrivateKey: options.wrongKey ? stranger.privateKey : wechatMerchant.privateKey,
        platformPublicKey: wechatPlatform.publicKey,
        baseUrl: sim.url,
        notifyUrl: `${notifyUrl}/wechatpay`,
        timeoutMs: options.timeoutMs ?? 5000,
      }),
    payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
    channels: ['native', 'jsapi'],
    immediateChannel: 'native',
  },
  {
    provider: 'alipay',
    client: (options = {}) =>
      createAlipayClient({
        appId: alipayAppId,
        appPrivateKey: options.wrongKey ? stranger.privateKey : alipayApp.privateKey,
        alipayPublicKey: alipayOwn.publicKey,
        gatewayUrl: `${sim.url}/gateway.do`,
        notifyUrl: `${notifyUrl}/alipay`,
        timeoutMs: options.timeoutMs ?? 5000,
      }),
    payer: { buyer_open_id: '074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5' },
    channels: ['precreate', 'alipay_jsapi'],
    immediateChannel: 'alipay_jsapi',
  },
  {
    provider: 'mock',
    client: (options = {}) =>
      createMockClient({ secret: options.wrongKey ? randomBytes(24).toString('hex') : mockSecret, baseUrl: sim.url, timeoutMs: options.timeoutMs ?? 5000 }),
    payer: undefined,
    channels: ['mock'],
    immediateChannel: 'mock',
  },
];

const newPaymentId = (): string => `pay_${randomBytes(10).toString('hex')}`;

function orderFor(testCase: ProviderCase, channel: PayChannel = testCase.immediateChannel, paymentId: string = newPaymentId()): OpenRequest {
  return { paymentId, amountMinor: 1234, currency: 'CNY', description: 'Simulated order', expiresAt: new Date(Date.now() + 30 * 60_000), channel, payer: testCase.payer };
}

async function pay(testCase: ProviderCase, paymentId: string): Promise<{ status: number; body: Record<string, unknown> | null }> {
  return control('POST', `/sim/orders/${paymentId}/pay`, { provider: testCase.provider, notify: 'never' });
}

async function openAndPay(testCase: ProviderCase): Promise<{ client: ProviderClient; paymentId: string }> {
  const client = testCase.client();
  const { paymentId } = orderFor(testCase);
  await client.open(orderFor(testCase, testCase.immediateChannel, paymentId));
  expect((await pay(testCase, paymentId)).status).toBe(200);
  return { client, paymentId };
}

async function fault(provider: ProviderName, operation: string, kind: string): Promise<void> {
  expect((await control('POST', '/sim/faults', { provider, operation, fault: kind })).status).toBe(201);
}

describe.each(cases)('$provider adapter against the simulator', (testCase) => {
  it('serves the channels it lists, the default first', () => {
    expect(testCase.client().channels).toEqual(testCase.channels);
  });

  it.each(testCase.channels)('opens a %s order, sees it pending, then paid with the transaction id and amount', async (channel) => {
    const client = testCase.client();
    const request = orderFor(testCase, channel);
    const opened = await client.open(request);
    expect(opened.channel).toBe(channel);
    expect(Object.values(opened.payParams).every((value) => typeof value === 'string' && value.length > 0)).toBe(true);

    if (channel === 'precreate') {
      // Alipay knows a QR order only once the buyer has scanned it (the cashier page stands for the scan).
      await expect(client.query(request.paymentId)).resolves.toMatchObject({ state: 'not_found' });
      expect((await fetch(`${sim.url}/cashier/alipay/${request.paymentId}`)).status).toBe(200);
    }
    await expect(client.query(request.paymentId)).resolves.toMatchObject({ state: 'pending', amountMinor: 1234 });

    const paid = await pay(testCase, request.paymentId);
    expect(paid.status).toBe(200);
    const status = await client.query(request.paymentId);
    expect(status).toMatchObject({ state: 'paid', amountMinor: 1234, transactionId: paid.body?.transaction_id });
    expect(status.transactionId).toEqual(expect.any(String));
  });

  it('opening the same order again returns its parameters again (no second order)', async () => {
    const client = testCase.client();
    const request = orderFor(testCase);
    await client.open(request);
    await expect(client.open(request)).resolves.toMatchObject({ channel: request.channel });
    expect((await control('GET', `/sim/orders/${request.paymentId}?provider=${testCase.provider}`)).body).toMatchObject({ amount: 1234, state: 'pending' });
  });

  it('resolves a close of an order the provider never saw', async () => {
    await expect(testCase.client().close(newPaymentId())).resolves.toBeUndefined();
  });

  it('closes an order: the buyer can no longer pay it and a query says closed', async () => {
    const client = testCase.client();
    const request = orderFor(testCase);
    await client.open(request);
    await client.close(request.paymentId);
    const paid = await pay(testCase, request.paymentId);
    expect(paid).toMatchObject({ status: 409, body: { code: 'ORDER_CLOSED' } });
    await expect(client.query(request.paymentId)).resolves.toMatchObject({ state: 'closed' });
  });

  it('refunds part of a paid order, the same refund id again being the same refund, and finds it by query', async () => {
    const { client, paymentId } = await openAndPay(testCase);
    const refund = { paymentId, refundId: `rf_${randomBytes(8).toString('hex')}`, amountMinor: 1000, totalMinor: 1234, reason: 'customer asked' };
    const first = await client.refund(refund);
    expect(['pending', 'succeeded']).toContain(first.state);
    const again = await client.refund(refund);
    expect(again.providerRefundId).toBe(first.providerRefundId);
    expect((await control('GET', `/sim/orders/${paymentId}?provider=${testCase.provider}`)).body?.refunds).toHaveLength(1);

    // WeChat settles a refund later (10 s, time-scaled): ask until it has.
    let status = await client.queryRefund(paymentId, refund.refundId);
    for (let attempt = 0; status.state === 'pending' && attempt < 50; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = await client.queryRefund(paymentId, refund.refundId);
    }
    expect(status).toMatchObject({ state: 'succeeded', amountMinor: 1000 });
    await expect(client.queryRefund(paymentId, `rf_${randomBytes(8).toString('hex')}`)).resolves.toMatchObject({ state: 'not_found' });
  });

  it('refuses a refund beyond what was paid', async () => {
    const { client, paymentId } = await openAndPay(testCase);
    await client.refund({ paymentId, refundId: `rf_${randomBytes(8).toString('hex')}`, amountMinor: 1234, totalMinor: 1234, reason: 'all of it' });
    const error = await rejection(client.refund({ paymentId, refundId: `rf_${randomBytes(8).toString('hex')}`, amountMinor: 1, totalMinor: 1234, reason: 'one fen more' }));
    expect(error.kind).toBe('rejected');
  });

  it('reports a provider that does not answer in time as unknown', async () => {
    const request = orderFor(testCase);
    await testCase.client().open(request);
    await fault(testCase.provider, 'query', 'timeout');
    const error = await rejection(testCase.client({ timeoutMs: 300 }).query(request.paymentId));
    expect(error).toMatchObject({ kind: 'unknown', code: 'timeout' });
  });

  it('reports a 5xx as retryable', async () => {
    await fault(testCase.provider, 'open', 'http_500');
    const error = await rejection(testCase.client().open(orderFor(testCase)));
    expect(error.kind).toBe('retryable');
  });

  it("reports the provider's system error as retryable", async () => {
    const request = orderFor(testCase);
    await testCase.client().open(request);
    await fault(testCase.provider, 'close', 'system_error');
    const error = await rejection(testCase.client().close(request.paymentId));
    expect(error.kind).toBe('retryable');
  });

  it('never trusts an answer whose signature does not verify', async () => {
    const { client, paymentId } = await openAndPay(testCase);
    await fault(testCase.provider, 'query', 'bad_signature');
    const error = await rejection(client.query(paymentId));
    expect(error).toMatchObject({ kind: 'unknown', code: 'bad_response_signature' });
  });

  it('reports a wrong amount as the provider said it, so the caller can refuse it', async () => {
    const { client, paymentId } = await openAndPay(testCase);
    await fault(testCase.provider, 'query', 'wrong_amount');
    await expect(client.query(paymentId)).resolves.toMatchObject({ state: 'paid', amountMinor: 1235 });
  });

  it('reports a request signed with the wrong key as misconfigured (mock: its answer cannot be verified either)', async () => {
    const error = await rejection(testCase.client({ wrongKey: true }).query(newPaymentId()));
    // The mock's one HMAC secret signs both ways: with the wrong one no answer verifies, so nothing is trusted.
    if (testCase.provider === 'mock') expect(error).toMatchObject({ kind: 'unknown', code: 'bad_response_signature' });
    else expect(error.kind).toBe('misconfigured');
    expect(error.message).not.toContain(stranger.privateKey.slice(40, 80));
  });
});
