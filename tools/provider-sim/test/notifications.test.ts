import { createDecipheriv, createVerify } from 'node:crypto';
import { type CallbackRequest, createAlipayProvider, createMockProvider, createWechatpayProvider, signMockRequest } from '@pay/providers';
import type { ProviderSim, ProviderSimOptions } from '../src';
import {
  type Json,
  type Received,
  type Receiver,
  type TestKeys,
  alipayCall,
  call,
  control,
  eventually,
  nativeOrder,
  sleep,
  startReceiver,
  startSim,
  testKeys,
  tradeNo,
  waitFor,
  wechatCall,
} from './support';

const keys: TestKeys = testKeys();
const verifiers = {
  wechatpay: createWechatpayProvider({
    mchid: keys.wechatpay.mchid,
    appid: keys.wechatpay.appid,
    apiV3Key: keys.wechatpay.apiV3Key,
    platformPublicKeys: { [keys.wechatpay.platformSerial]: keys.wechatpay.platform.publicKey },
  }),
  alipay: createAlipayProvider({ appId: keys.alipay.appId, alipayPublicKey: keys.alipay.alipay.publicKey }),
  mock: createMockProvider({ secret: keys.mockSecret }),
};

let running: { sim: ProviderSim; receiver: Receiver }[] = [];

afterEach(async () => {
  await Promise.all(running.map(async ({ sim, receiver }) => Promise.all([sim.close(), receiver.close()])));
  running = [];
});

/** A simulator whose callback URL is a fresh receiver answering with `answer`. */
async function setup(answer?: Parameters<typeof startReceiver>[0], extra: Partial<ProviderSimOptions> = {}): Promise<{ sim: ProviderSim; receiver: Receiver }> {
  const receiver = await startReceiver(answer);
  const sim = await startSim(keys, { callbackUrl: receiver.url, ...extra });
  running.push({ sim, receiver });
  return { sim, receiver };
}

function asCallback(received: Received): CallbackRequest {
  return { headers: received.headers, rawBody: received.rawBody };
}

async function openOrder(sim: ProviderSim, provider: 'wechatpay' | 'alipay' | 'mock', outTradeNo: string, extra: Record<string, unknown> = {}): Promise<void> {
  if (provider === 'wechatpay') {
    expect((await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/native', nativeOrder(keys, outTradeNo, 1999, extra))).status).toBe(200);
  } else if (provider === 'alipay') {
    expect((await alipayCall(sim, keys, 'alipay.trade.precreate', { out_trade_no: outTradeNo, total_amount: '19.99', subject: 'Tea' })).status).toBe(200);
  } else {
    const raw = JSON.stringify({ out_trade_no: outTradeNo, amount: '19.99', description: 'Tea', ...extra });
    const signature = signMockRequest(keys.mockSecret, 'POST', '/mock/v1/orders', raw);
    expect((await call(`${sim.url}/mock/v1/orders`, { method: 'POST', headers: { 'x-mock-signature': signature, 'content-type': 'application/json' }, body: raw })).status).toBe(200);
  }
}

const ledgerOf = async (sim: ProviderSim, outTradeNo: string): Promise<Json> => (await control(sim, 'GET', `/sim/orders/${outTradeNo}`)).json();

/** Checks the signature with the platform key and opens the resource with the APIv3 key, by hand. */
function openWechatNotification(received: Received): Json {
  const verifier = createVerify('RSA-SHA256');
  verifier.update(`${received.headers['wechatpay-timestamp']}\n${received.headers['wechatpay-nonce']}\n${received.rawBody.toString('utf8')}\n`);
  expect(verifier.verify(keys.wechatpay.platform.publicKey, received.headers['wechatpay-signature'] ?? '', 'base64')).toBe(true);
  const body = JSON.parse(received.rawBody.toString('utf8'));
  const sealed = Buffer.from(body.resource.ciphertext, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(keys.wechatpay.apiV3Key), Buffer.from(body.resource.nonce));
  decipher.setAAD(Buffer.from(body.resource.associated_data));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  const resource = JSON.parse(Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]).toString('utf8'));
  return { ...body, resource };
}

describe('payment notifications reach the callback gateway and verify there', () => {
  it.each(['wechatpay', 'alipay', 'mock'] as const)('%s: a paid order is notified at /callbacks/<provider>, accepted by our verifier', async (provider) => {
    const { sim, receiver } = await setup();
    const outTradeNo = tradeNo();
    await openOrder(sim, provider, outTradeNo);
    const paid = (await control(sim, 'POST', `/sim/orders/${outTradeNo}/pay`)).json();
    await waitFor(() => receiver.received.length === 1, 3000, 'the notification');
    const [notice] = receiver.received;
    expect(notice!.path).toBe(`/callbacks/${provider}`);
    expect(verifiers[provider].verify(asCallback(notice!), new Date())).toEqual({
      ok: true,
      notification: { provider, notificationId: expect.any(String), paymentId: outTradeNo, transactionId: paid.transaction_id, outcome: 'success', amountMinor: 1999 },
    });
    await eventually(async () => (await ledgerOf(sim, outTradeNo)).notifications.length === 1, 'the ledger entry');
    expect((await ledgerOf(sim, outTradeNo)).notifications).toEqual([
      { notification_id: expect.any(String), event: expect.any(String), at: expect.any(String), attempt: 1, status_code: 200, acknowledged: true },
    ]);
  });

  it('WeChat Pay: a failed payment is notified as TRANSACTION.PAYERROR, a failure to our verifier', async () => {
    const { sim, receiver } = await setup();
    const outTradeNo = tradeNo();
    await openOrder(sim, 'wechatpay', outTradeNo);
    expect((await control(sim, 'POST', `/sim/orders/${outTradeNo}/fail`)).json().status).toBe('PAYERROR');
    await waitFor(() => receiver.received.length === 1, 3000, 'the notification');
    expect(verifiers.wechatpay.verify(asCallback(receiver.received[0]!), new Date())).toMatchObject({ ok: true, notification: { outcome: 'failure' } });
    expect(openWechatNotification(receiver.received[0]!).event_type).toBe('TRANSACTION.PAYERROR');
  });

  it('mock: a failed payment is notified as FAILED without a transaction id', async () => {
    const { sim, receiver } = await setup();
    const outTradeNo = tradeNo();
    await openOrder(sim, 'mock', outTradeNo);
    await control(sim, 'POST', `/sim/orders/${outTradeNo}/fail`);
    await waitFor(() => receiver.received.length === 1, 3000, 'the notification');
    expect(verifiers.mock.verify(asCallback(receiver.received[0]!), new Date())).toMatchObject({ ok: true, notification: { outcome: 'failure', transactionId: null } });
  });

  it('Alipay: a failed attempt sends nothing and leaves the trade waiting for the buyer', async () => {
    const { sim, receiver } = await setup();
    const outTradeNo = tradeNo();
    await openOrder(sim, 'alipay', outTradeNo);
    expect((await control(sim, 'POST', `/sim/orders/${outTradeNo}/fail`)).json()).toMatchObject({ status: 'WAIT_BUYER_PAY', failures: 1, opened: true });
    await sleep(100);
    expect(receiver.received).toHaveLength(0);
    expect((await control(sim, 'POST', `/sim/orders/${outTradeNo}/pay`)).status).toBe(200);
  });

  it('sends to the order notify_url rather than the callback gateway', async () => {
    const { sim } = await setup();
    const own = await startReceiver();
    try {
      const outTradeNo = tradeNo();
      await openOrder(sim, 'wechatpay', outTradeNo, { notify_url: `${own.url}/my/notify` });
      await control(sim, 'POST', `/sim/orders/${outTradeNo}/pay`);
      await waitFor(() => own.received.length === 1, 3000, 'the notification');
      expect(own.received[0]!.path).toBe('/my/notify');
    } finally {
      await own.close();
    }
  });
});

describe('retries', () => {
  it('WeChat Pay: retried after 4xx and 5xx until a 2xx, with the same notification id, signed afresh', async () => {
    const { sim, receiver } = await setup((_request, index) => (index === 0 ? { status: 500, body: 'busy' } : index === 1 ? { status: 400, body: 'no' } : { status: 204, body: '' }));
    const outTradeNo = tradeNo();
    await openOrder(sim, 'wechatpay', outTradeNo);
    await control(sim, 'POST', `/sim/orders/${outTradeNo}/pay`);
    await waitFor(() => receiver.received.length === 3, 3000, 'three deliveries');
    await sleep(100);
    expect(receiver.received).toHaveLength(3);
    const ids = receiver.received.map((request) => verifiers.wechatpay.verify(asCallback(request), new Date())).map((result) => result.ok && result.notification.notificationId);
    expect(new Set(ids).size).toBe(1);
    expect(new Set(receiver.received.map((request) => request.headers['wechatpay-nonce'])).size).toBe(3);
    expect((await ledgerOf(sim, outTradeNo)).notifications.map((record: Json) => [record.attempt, record.status_code, record.acknowledged])).toEqual([
      [1, 500, false],
      [2, 400, false],
      [3, 204, true],
    ]);
  });

  it('Alipay: acknowledged only by the exact body "success", the same notify_id on every delivery', async () => {
    const { sim, receiver } = await setup((_request, index) => ({ status: 200, body: index === 0 ? 'SUCCESS' : index === 1 ? 'success\n' : 'success' }));
    const outTradeNo = tradeNo();
    await openOrder(sim, 'alipay', outTradeNo);
    await control(sim, 'POST', `/sim/orders/${outTradeNo}/pay`);
    await waitFor(() => receiver.received.length === 3, 3000, 'three deliveries');
    await sleep(100);
    expect(receiver.received).toHaveLength(3);
    const notifyIds = receiver.received.map((request) => new URLSearchParams(request.rawBody.toString('utf8')).get('notify_id'));
    expect(new Set(notifyIds).size).toBe(1);
    for (const request of receiver.received) expect(verifiers.alipay.verify(asCallback(request), new Date()).ok).toBe(true);
  });

  it('gives up when the schedule is used up: 16 deliveries for WeChat Pay, 8 for Alipay', async () => {
    // 24 h 4 min and 25 h of schedule at 1/100000: under a second each.
    const { sim, receiver } = await setup(() => ({ status: 503, body: 'down' }), { timeScale: 0.00001 });
    const wechat = tradeNo('W');
    const alipay = tradeNo('A');
    await openOrder(sim, 'wechatpay', wechat);
    await openOrder(sim, 'alipay', alipay);
    await control(sim, 'POST', `/sim/orders/${wechat}/pay`);
    await control(sim, 'POST', `/sim/orders/${alipay}/pay`);
    const count = (path: string) => receiver.received.filter((request) => request.path === path).length;
    await waitFor(() => count('/callbacks/wechatpay') === 16 && count('/callbacks/alipay') === 8, 8000, 'the schedules to run out');
    await sleep(300);
    expect([count('/callbacks/wechatpay'), count('/callbacks/alipay')]).toEqual([16, 8]);
  });
});

describe('notify options', () => {
  it('never: the ledger is paid and nothing is sent', async () => {
    const { sim, receiver } = await setup();
    const outTradeNo = tradeNo();
    await openOrder(sim, 'mock', outTradeNo);
    expect((await control(sim, 'POST', `/sim/orders/${outTradeNo}/pay`, { notify: 'never' })).json().status).toBe('SUCCESS');
    await sleep(100);
    expect(receiver.received).toHaveLength(0);
  });

  it('duplicate: the same notification delivered twice', async () => {
    const { sim, receiver } = await setup();
    const outTradeNo = tradeNo();
    await openOrder(sim, 'wechatpay', outTradeNo);
    await control(sim, 'POST', `/sim/orders/${outTradeNo}/pay`, { notify: 'duplicate' });
    await waitFor(() => receiver.received.length === 2, 3000, 'two deliveries');
    const ids = receiver.received.map((request) => JSON.parse(request.rawBody.toString('utf8')).id);
    expect(ids[0]).toBe(ids[1]);
  });

  it('delay_s:<n>: waits n seconds times the time scale first', async () => {
    const { sim, receiver } = await setup();
    const outTradeNo = tradeNo();
    await openOrder(sim, 'mock', outTradeNo);
    const started = Date.now();
    await control(sim, 'POST', `/sim/orders/${outTradeNo}/pay`, { notify: 'delay_s:400' });
    await sleep(250);
    expect(receiver.received).toHaveLength(0);
    await waitFor(() => receiver.received.length === 1, 3000, 'the delayed notification');
    expect(receiver.received[0]!.at - started).toBeGreaterThanOrEqual(390);
  });

  it('sends nothing without a notify_url or a callback URL, and records the payment', async () => {
    const sim = await startSim(keys);
    try {
      const outTradeNo = tradeNo();
      await openOrder(sim, 'mock', outTradeNo);
      expect((await control(sim, 'POST', `/sim/orders/${outTradeNo}/pay`)).json()).toMatchObject({ status: 'SUCCESS', notifications: [] });
    } finally {
      await sim.close();
    }
  });
});

describe('WeChat Pay refund notifications', () => {
  async function paidOrder(sim: ProviderSim, total: number): Promise<string> {
    const outTradeNo = tradeNo();
    await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/native', nativeOrder(keys, outTradeNo, total));
    await control(sim, 'POST', `/sim/orders/${outTradeNo}/pay`, { notify: 'never' });
    return outTradeNo;
  }

  it('sends REFUND.SUCCESS to the refund notify_url, sealed with the APIv3 key under "refund"', async () => {
    const { sim, receiver } = await setup();
    const outTradeNo = await paidOrder(sim, 1000);
    const accepted = (
      await wechatCall(sim, keys, 'POST', '/v3/refund/domestic/refunds', {
        out_trade_no: outTradeNo,
        out_refund_no: `R${outTradeNo}`,
        notify_url: `${receiver.url}/refund-notify`,
        amount: { refund: 300, total: 1000, currency: 'CNY' },
      })
    ).json();
    await waitFor(() => receiver.received.length === 1, 3000, 'the refund notification');
    expect(receiver.received[0]!.path).toBe('/refund-notify');
    const notice = openWechatNotification(receiver.received[0]!);
    expect(notice).toMatchObject({ event_type: 'REFUND.SUCCESS', resource_type: 'encrypt-resource', resource: { refund_status: 'SUCCESS' } });
    expect(notice.resource).toMatchObject({
      mchid: keys.wechatpay.mchid,
      out_trade_no: outTradeNo,
      out_refund_no: `R${outTradeNo}`,
      refund_id: accepted.refund_id,
      transaction_id: accepted.transaction_id,
      success_time: expect.any(String),
      amount: { total: 1000, refund: 300, payer_total: 1000, payer_refund: 300 },
    });
  });

  it('settles as a test asked, even before the refund was made: ABNORMAL, then CLOSED, which gives the amount back', async () => {
    const { sim, receiver } = await setup();
    const outTradeNo = await paidOrder(sim, 1000);
    const planned = await control(sim, 'POST', `/sim/refunds/R${outTradeNo}/outcome`, { status: 'ABNORMAL' });
    expect(planned.status).toBe(202);
    const refund = { out_trade_no: outTradeNo, out_refund_no: `R${outTradeNo}`, amount: { refund: 1000, total: 1000, currency: 'CNY' } };
    expect((await wechatCall(sim, keys, 'POST', '/v3/refund/domestic/refunds', refund)).json().status).toBe('PROCESSING');
    await waitFor(() => receiver.received.length === 1, 3000, 'REFUND.ABNORMAL');
    expect(openWechatNotification(receiver.received[0]!)).toMatchObject({ event_type: 'REFUND.ABNORMAL', resource: { refund_status: 'ABNORMAL' } });
    expect(openWechatNotification(receiver.received[0]!).resource).not.toHaveProperty('success_time');

    const again = { ...refund, out_refund_no: `S${outTradeNo}` };
    expect((await wechatCall(sim, keys, 'POST', '/v3/refund/domestic/refunds', again)).json().code).toBe('NOT_ENOUGH');
    const closed = await control(sim, 'POST', `/sim/refunds/R${outTradeNo}/outcome`, { status: 'CLOSED' });
    expect(closed.json()).toMatchObject({ status: 'CLOSED', settled_at: expect.any(String) });
    await waitFor(() => receiver.received.length === 2, 3000, 'REFUND.CLOSED');
    expect(openWechatNotification(receiver.received[1]!).event_type).toBe('REFUND.CLOSED');
    expect((await wechatCall(sim, keys, 'GET', `/v3/refund/domestic/refunds/R${outTradeNo}`)).json().status).toBe('CLOSED');
    expect((await wechatCall(sim, keys, 'POST', '/v3/refund/domestic/refunds', again)).status).toBe(200);
    const settledTwice = await control(sim, 'POST', `/sim/refunds/R${outTradeNo}/outcome`, { status: 'SUCCESS' });
    expect([settledTwice.status, settledTwice.json().code]).toEqual([409, 'REFUND_SETTLED']);
  });

  it('decides a pending refund at once with the notify option', async () => {
    const { sim, receiver } = await setup(undefined, { timeScale: 1 });
    const outTradeNo = await paidOrder(sim, 500);
    await wechatCall(sim, keys, 'POST', '/v3/refund/domestic/refunds', { out_trade_no: outTradeNo, out_refund_no: `R${outTradeNo}`, amount: { refund: 500, total: 500, currency: 'CNY' } });
    // At time scale 1 the refund would stay PROCESSING for 10 s: the test decides it now.
    const decided = await control(sim, 'POST', `/sim/refunds/R${outTradeNo}/outcome`, { status: 'SUCCESS', notify: 'never' });
    expect(decided.json()).toMatchObject({ status: 'SUCCESS' });
    await sleep(100);
    expect(receiver.received).toHaveLength(0);
  });
});
