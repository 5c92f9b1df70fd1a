import { signMockRequest } from '@pay/providers';
import { startProviderSim } from '../src';
import {
  type TestKeys,
  alipayAnswer,
  alipayCall,
  alipaySdk,
  call,
  control,
  nativeOrder,
  sleep,
  startReceiver,
  startSim,
  testKeys,
  tradeNo,
  useSim,
  waitFor,
  wechatAnswerVerifies,
  wechatCall,
  wechatpaySdk,
} from './support';

const keys: TestKeys = testKeys();
const sim = useSim(keys);

afterEach(async () => {
  await control(sim, 'DELETE', '/sim/faults');
});

const openNative = (outTradeNo: string, total = 1234, extra: Record<string, unknown> = {}) =>
  wechatCall(sim, keys, 'POST', '/v3/pay/transactions/native', nativeOrder(keys, outTradeNo, total, extra));
const query = (outTradeNo: string) => wechatCall(sim, keys, 'GET', `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=${keys.wechatpay.mchid}`);
const fault = (body: Record<string, unknown>) => control(sim, 'POST', '/sim/faults', body);

function mockOrder(outTradeNo: string, description = 'Tea'): Promise<Response> {
  const raw = JSON.stringify({ out_trade_no: outTradeNo, amount: '3.50', description });
  const signature = signMockRequest(keys.mockSecret, 'POST', '/mock/v1/orders', raw);
  return fetch(`${sim.url}/mock/v1/orders`, { method: 'POST', headers: { 'x-mock-signature': signature, 'content-type': 'application/json' }, body: raw });
}

describe('cashier page', () => {
  it('shows amount, description and status with Pay and Fail buttons, everything escaped, no scripts', async () => {
    const outTradeNo = tradeNo();
    await mockOrder(outTradeNo, '<script>alert(1)</script> & "tea"');
    const page = await call(`${sim.url}/cashier/mock/${outTradeNo}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;tea&quot;');
    expect(page.text).not.toContain('<script>');
    expect(page.text).toContain('3.50');
    expect(page.text).toContain('NOTPAY');
    expect(page.text).toContain(`action="/cashier/mock/${outTradeNo}/pay"`);
    expect(page.text).toContain(`action="/cashier/mock/${outTradeNo}/fail"`);
  });

  it('pays through the Pay form, then offers no buttons and refuses a second payment', async () => {
    const outTradeNo = tradeNo();
    await openNative(outTradeNo);
    const result = await call(`${sim.url}/cashier/wechatpay/${outTradeNo}/pay`, { method: 'POST' });
    expect(result.status).toBe(200);
    expect(result.text).toContain('SUCCESS');
    expect((await query(outTradeNo)).json().trade_state).toBe('SUCCESS');
    expect((await call(`${sim.url}/cashier/wechatpay/${outTradeNo}`)).text).not.toContain('<form');
    expect((await call(`${sim.url}/cashier/wechatpay/${outTradeNo}/pay`, { method: 'POST' })).status).toBe(409);
  });

  it('answers 404 for an unknown order or provider', async () => {
    expect((await call(`${sim.url}/cashier/mock/${tradeNo()}`)).status).toBe(404);
    expect((await call(`${sim.url}/cashier/paypal/${tradeNo()}`)).status).toBe(404);
  });
});

describe('control API', () => {
  it('reads the ledger entry of an order', async () => {
    const outTradeNo = tradeNo();
    await openNative(outTradeNo, 4321, { notify_url: 'https://example.com/notify' });
    const entry = (await control(sim, 'GET', `/sim/orders/${outTradeNo}`)).json();
    expect(entry).toMatchObject({
      provider: 'wechatpay',
      out_trade_no: outTradeNo,
      amount: 4321,
      amount_yuan: '43.21',
      description: 'Tea',
      channel: 'native',
      status: 'NOTPAY',
      transaction_id: null,
      notify_url: 'https://example.com/notify',
      refunds: [],
      notifications: [],
    });
  });

  it('refuses to pay a closed order (ORDER_CLOSED) or a paid one (ORDER_PAID), and to pay after a failure', async () => {
    const closed = tradeNo();
    await openNative(closed);
    await wechatCall(sim, keys, 'POST', `/v3/pay/transactions/out-trade-no/${closed}/close`, { mchid: keys.wechatpay.mchid });
    const late = await control(sim, 'POST', `/sim/orders/${closed}/pay`);
    expect([late.status, late.json().code]).toEqual([409, 'ORDER_CLOSED']);

    const paid = tradeNo();
    await openNative(paid);
    expect((await control(sim, 'POST', `/sim/orders/${paid}/pay`, { notify: 'never' })).status).toBe(200);
    const twice = await control(sim, 'POST', `/sim/orders/${paid}/pay`);
    expect([twice.status, twice.json().code]).toEqual([409, 'ORDER_PAID']);

    const failed = tradeNo();
    await openNative(failed);
    expect((await control(sim, 'POST', `/sim/orders/${failed}/fail`, { notify: 'never' })).json().status).toBe('PAYERROR');
    expect((await control(sim, 'POST', `/sim/orders/${failed}/pay`)).json().code).toBe('ORDER_FAILED');
  });

  it('needs the provider when the same out_trade_no exists at two providers', async () => {
    const outTradeNo = tradeNo();
    await openNative(outTradeNo);
    await mockOrder(outTradeNo);
    const ambiguous = await control(sim, 'POST', `/sim/orders/${outTradeNo}/pay`);
    expect([ambiguous.status, ambiguous.json().code]).toEqual([400, 'PROVIDER_REQUIRED']);
    expect((await control(sim, 'POST', `/sim/orders/${outTradeNo}/pay`, { provider: 'mock', notify: 'never' })).json()).toMatchObject({ provider: 'mock', status: 'SUCCESS' });
    expect((await control(sim, 'GET', `/sim/orders/${outTradeNo}?provider=wechatpay`)).json().status).toBe('NOTPAY');
  });

  it('refuses bad input with a clear 4xx', async () => {
    const outTradeNo = tradeNo();
    await openNative(outTradeNo);
    const cases: [string, string, unknown, number, string][] = [
      ['POST', `/sim/orders/${outTradeNo}/pay`, { notify: 'sometimes' }, 400, 'INVALID_REQUEST'],
      ['POST', `/sim/orders/${outTradeNo}/pay`, { notify: 'delay_s:-1' }, 400, 'INVALID_REQUEST'],
      ['POST', `/sim/orders/${outTradeNo}/pay`, { colour: 'red' }, 400, 'INVALID_REQUEST'],
      ['POST', `/sim/orders/${outTradeNo}/pay`, { provider: 'paypal' }, 400, 'INVALID_REQUEST'],
      ['POST', `/sim/orders/${tradeNo()}/pay`, {}, 404, 'ORDER_NOT_EXIST'],
      ['GET', `/sim/refunds/${tradeNo()}`, undefined, 404, 'REFUND_NOT_EXIST'],
      ['POST', '/sim/faults', { provider: 'wechatpay', fault: 'slow' }, 400, 'INVALID_REQUEST'],
      ['POST', '/sim/faults', { provider: 'wechatpay', operation: 'open', fault: 'wrong_amount' }, 400, 'INVALID_REQUEST'],
      ['POST', '/sim/faults', { provider: 'wechatpay', fault: 'timeout', count: 0 }, 400, 'INVALID_REQUEST'],
      ['POST', `/sim/refunds/${tradeNo()}/outcome`, { status: 'DONE' }, 400, 'INVALID_REQUEST'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const answer = await control(sim, method, path, body);
      expect([method, path, answer.status, answer.json().code]).toEqual([method, path, status, code]);
    }
    const notJson = await call(`${sim.url}/sim/orders/${outTradeNo}/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect([notJson.status, notJson.json().code]).toEqual([400, 'INVALID_REQUEST']);
    const form = await call(`${sim.url}/sim/orders/${outTradeNo}/pay`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'notify=never' });
    expect([form.status, form.json().code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
  });
});

describe('faults', () => {
  it('http_500: WeChat answers a signed 500 SYSTEM_ERROR and opens nothing; the next call is normal again', async () => {
    await fault({ provider: 'wechatpay', operation: 'open', fault: 'http_500' });
    const outTradeNo = tradeNo();
    const failed = await openNative(outTradeNo);
    expect([failed.status, failed.json().code]).toEqual([500, 'SYSTEM_ERROR']);
    expect(wechatAnswerVerifies(failed, keys)).toBe(true);
    expect((await query(outTradeNo)).status).toBe(404);
    expect((await openNative(outTradeNo)).status).toBe(200);
  });

  it('counts down: the next `count` matching calls misbehave, other operations are untouched', async () => {
    await fault({ provider: 'wechatpay', operation: 'query', fault: 'http_500', count: 2 });
    const outTradeNo = tradeNo();
    expect((await openNative(outTradeNo)).status).toBe(200);
    expect((await query(outTradeNo)).status).toBe(500);
    expect((await query(outTradeNo)).status).toBe(500);
    expect((await query(outTradeNo)).status).toBe(200);
  });

  it('bad_signature: a valid answer the SDKs refuse for its signature', async () => {
    const wxpay = wechatpaySdk(sim, keys);
    await fault({ provider: 'wechatpay', fault: 'bad_signature' });
    await expect(wxpay.v3.pay.transactions.native.post(nativeOrder(keys, tradeNo()))).rejects.toMatchObject({ code: 'EV3_RES_HEADER_SIGNATURE_DIGEST' });

    const alipay = alipaySdk(sim, keys);
    await fault({ provider: 'alipay', operation: 'open', fault: 'bad_signature' });
    const bizContent = { out_trade_no: tradeNo(), total_amount: '1.00', subject: 'Tea' };
    await expect(alipay.exec('alipay.trade.precreate', { bizContent }, { validateSign: true })).rejects.toThrow(/验签失败/);
    // The operation itself happened: the same call now answers normally.
    expect(await alipay.exec('alipay.trade.precreate', { bizContent }, { validateSign: true })).toMatchObject({ code: '10000' });
  });

  it('wrong_amount: a query answer 1 fen off (WeChat in fen, Alipay in yuan)', async () => {
    const outTradeNo = tradeNo();
    await openNative(outTradeNo, 1000);
    await fault({ provider: 'wechatpay', fault: 'wrong_amount' });
    expect((await query(outTradeNo)).json().amount.total).toBe(1001);
    expect((await query(outTradeNo)).json().amount.total).toBe(1000);

    await alipayCall(sim, keys, 'alipay.trade.create', { out_trade_no: outTradeNo, total_amount: '10.00', subject: 'Tea', buyer_open_id: 'o-1' });
    await fault({ provider: 'alipay', operation: 'query', fault: 'wrong_amount' });
    const answer = alipayAnswer(await alipayCall(sim, keys, 'alipay.trade.query', { out_trade_no: outTradeNo }), keys, 'alipay.trade.query');
    expect(answer.total_amount).toBe('10.01');
  });

  it('system_error: Alipay answers ACQ.SYSTEM_ERROR, signed, and does nothing', async () => {
    await fault({ provider: 'alipay', operation: 'open', fault: 'system_error' });
    const outTradeNo = tradeNo();
    const biz = { out_trade_no: outTradeNo, total_amount: '1.00', subject: 'Tea', buyer_open_id: 'o-1' };
    expect(alipayAnswer(await alipayCall(sim, keys, 'alipay.trade.create', biz), keys, 'alipay.trade.create')).toMatchObject({ code: '40004', sub_code: 'ACQ.SYSTEM_ERROR' });
    expect(alipayAnswer(await alipayCall(sim, keys, 'alipay.trade.query', { out_trade_no: outTradeNo }), keys, 'alipay.trade.query').sub_code).toBe('ACQ.TRADE_NOT_EXIST');

    await fault({ provider: 'alipay', fault: 'http_500' });
    const unavailable = await alipayCall(sim, keys, 'alipay.trade.create', biz);
    expect(unavailable.status).toBe(500);
    expect(alipayAnswer(unavailable, keys, 'alipay.trade.create')).toMatchObject({ code: '20000', sub_code: 'isp.unknow-error' });
  });

  it('timeout: the call is carried out but never answered', async () => {
    await fault({ provider: 'mock', operation: 'open', fault: 'timeout' });
    const outTradeNo = tradeNo();
    const held = mockOrder(outTradeNo);
    const outcome = await Promise.race([held.then(() => 'answered'), sleep(300).then(() => 'still waiting')]);
    expect(outcome).toBe('still waiting');
    expect((await control(sim, 'GET', `/sim/orders/${outTradeNo}`)).json().status).toBe('NOTPAY');
    held.catch(() => undefined);
  });

  it('lists and clears pending faults', async () => {
    await fault({ provider: 'mock', fault: 'http_500', count: 3 });
    expect((await control(sim, 'GET', '/sim/faults')).json()).toEqual({ faults: [{ provider: 'mock', fault: 'http_500', count: 3 }] });
    expect((await control(sim, 'DELETE', '/sim/faults')).status).toBe(204);
    expect((await control(sim, 'GET', '/sim/faults')).json()).toEqual({ faults: [] });
  });
});

describe('life cycle', () => {
  it('answers 404 on the endpoints of a provider it was not given', async () => {
    const only = await startProviderSim({ mock: { secret: keys.mockSecret } });
    try {
      expect((await call(`${only.url}/v3/pay/transactions/native`, { method: 'POST' })).status).toBe(404);
      expect((await call(`${only.url}/gateway.do`, { method: 'POST' })).status).toBe(404);
      const faulty = await call(`${only.url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ provider: 'alipay', fault: 'timeout' }) });
      expect([faulty.status, faulty.json().code]).toEqual([400, 'PROVIDER_DISABLED']);
    } finally {
      await only.close();
    }
  });

  it('refuses bad options without echoing a key', async () => {
    const secretLooking = 'not-a-pem-but-secret-0123456789';
    const attempt = startProviderSim({ alipay: { appId: '1', privateKey: secretLooking, appPublicKey: secretLooking } });
    await expect(attempt).rejects.toThrow(/alipay\.privateKey/);
    await expect(attempt).rejects.not.toThrow(new RegExp(secretLooking));
    await expect(startProviderSim({ mock: { secret: 'x'.repeat(16) }, timeScale: 0 })).rejects.toThrow(/timeScale/);
  });

  it('close() releases held calls and cancels pending notification retries', async () => {
    const receiver = await startReceiver(() => ({ status: 500, body: 'down' }));
    // The first retry is due 15 s × 0.04 = 600 ms after the first delivery.
    const local = await startSim(keys, { callbackUrl: receiver.url, timeScale: 0.04 });
    try {
      const outTradeNo = tradeNo();
      expect((await wechatCall(local, keys, 'POST', '/v3/pay/transactions/native', nativeOrder(keys, outTradeNo))).status).toBe(200);
      await call(`${local.url}/sim/orders/${outTradeNo}/pay`, { method: 'POST' });
      await waitFor(() => receiver.received.length === 1, 3000, 'the first delivery');
      await call(`${local.url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ provider: 'wechatpay', fault: 'timeout' }) });
      const held = wechatCall(local, keys, 'GET', `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=${keys.wechatpay.mchid}`).then(
        () => 'answered',
        () => 'cut',
      );
      await sleep(100);
      const started = Date.now();
      await local.close();
      expect(Date.now() - started).toBeLessThan(1000);
      expect(await held).toBe('cut');
      await sleep(Math.max(0, receiver.received[0]!.at + 1000 - Date.now()));
      expect(receiver.received).toHaveLength(1);
    } finally {
      await local.close();
      await receiver.close();
    }
  });
});
