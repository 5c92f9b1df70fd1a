import {
  type TestKeys,
  call,
  control,
  eventually,
  nativeOrder,
  rsaPair,
  testKeys,
  tradeNo,
  useSim,
  waitFor,
  wechatAnswerVerifies,
  wechatAuthorization,
  wechatCall,
  wechatpaySdk,
} from './support';

const keys: TestKeys = testKeys();
const sim = useSim(keys);

const sdk = () => wechatpaySdk(sim, keys);

const query = (outTradeNo: string) => wechatCall(sim, keys, 'GET', `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=${keys.wechatpay.mchid}`);
const close = (outTradeNo: string) => wechatCall(sim, keys, 'POST', `/v3/pay/transactions/out-trade-no/${outTradeNo}/close`, { mchid: keys.wechatpay.mchid });
const refund = (body: Record<string, unknown>) => wechatCall(sim, keys, 'POST', '/v3/refund/domestic/refunds', body);
const pay = (outTradeNo: string) => control(sim, 'POST', `/sim/orders/${outTradeNo}/pay`, { notify: 'never' });

describe('wechatpay: signed answers the SDK accepts', () => {
  it('opens a Native order with a code_url, queries it and closes it through wechatpay-axios-plugin (public-key mode)', async () => {
    const client = sdk();
    const outTradeNo = tradeNo();
    const opened = await client.v3.pay.transactions.native.post(nativeOrder(keys, outTradeNo));
    expect(opened.status).toBe(200);
    expect(opened.data.code_url).toBe(`${sim.url}/cashier/wechatpay/${outTradeNo}`);

    const found = await client.v3.pay.transactions.outTradeNo._out_trade_no_.get({ params: { mchid: keys.wechatpay.mchid }, out_trade_no: outTradeNo });
    expect(found.data).toMatchObject({
      appid: keys.wechatpay.appid,
      mchid: keys.wechatpay.mchid,
      out_trade_no: outTradeNo,
      trade_type: 'NATIVE',
      trade_state: 'NOTPAY',
      amount: { total: 1234, currency: 'CNY' },
    });

    const closed = await client.v3.pay.transactions.outTradeNo._out_trade_no_.close.post({ mchid: keys.wechatpay.mchid }, { out_trade_no: outTradeNo });
    expect(closed.status).toBe(204);
    expect(closed.data).toBe('');
  });

  it('opens a JSAPI order with a prepay_id and refunds it through the SDK', async () => {
    const client = sdk();
    const outTradeNo = tradeNo();
    const opened = await client.v3.pay.transactions.jsapi.post(nativeOrder(keys, outTradeNo, 500, { payer: { openid: 'o-buyer-1' } }));
    expect(opened.data.prepay_id).toMatch(/^wx\d{14}[A-Za-z0-9]+$/);
    await pay(outTradeNo);
    const refunded = await client.v3.refund.domestic.refunds.post({ out_trade_no: outTradeNo, out_refund_no: `R${outTradeNo}`, amount: { refund: 200, total: 500, currency: 'CNY' } });
    expect(refunded.data).toMatchObject({ out_refund_no: `R${outTradeNo}`, status: 'PROCESSING', channel: 'ORIGINAL', amount: { refund: 200, total: 500 } });
  });

  it('signs error answers too, with the platform serial', async () => {
    const answer = await query(tradeNo());
    expect(answer.status).toBe(404);
    expect(answer.json()).toEqual({ code: 'ORDER_NOT_EXIST', message: expect.any(String) });
    expect(wechatAnswerVerifies(answer, keys)).toBe(true);
    expect(answer.headers.get('request-id')).toBeTruthy();
  });
});

describe('wechatpay: request authentication', () => {
  it('refuses a bad signature, another key, another serial, another mchid or a stale timestamp with 401 SIGN_ERROR', async () => {
    const body = nativeOrder(keys, tradeNo());
    const attempts = [
      { privateKey: rsaPair().privateKey },
      { serial: 'ABCDEF0123456789' },
      { mchid: '1900000999' },
      { timestamp: Math.floor(Date.now() / 1000) - 301 },
      { timestamp: Math.floor(Date.now() / 1000) + 400 },
    ];
    for (const signing of attempts) {
      const answer = await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/native', body, signing);
      expect(answer.status).toBe(401);
      expect(answer.json().code).toBe('SIGN_ERROR');
      expect(wechatAnswerVerifies(answer, keys)).toBe(true);
    }
  });

  it('refuses a request whose body was changed after signing', async () => {
    const body = nativeOrder(keys, tradeNo(), 100);
    const answer = await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/native', body, { sendInstead: JSON.stringify({ ...body, amount: { total: 1 } }) });
    expect([answer.status, answer.json().code]).toEqual([401, 'SIGN_ERROR']);
  });

  it('refuses a request without Authorization, and a signed request replayed on another query string', async () => {
    const path = `/v3/pay/transactions/out-trade-no/${tradeNo()}?mchid=${keys.wechatpay.mchid}`;
    const bare = await call(`${sim.url}${path}`);
    expect([bare.status, bare.json().code]).toEqual([401, 'SIGN_ERROR']);
    const authorization = wechatAuthorization(keys, 'GET', path, '');
    expect((await call(`${sim.url}${path}`, { headers: { authorization } })).status).toBe(404);
    const replayed = await call(`${sim.url}${path}&x=1`, { headers: { authorization } });
    expect([replayed.status, replayed.json().code]).toEqual([401, 'SIGN_ERROR']);
  });

});

describe('wechatpay: prepay rules', () => {
  it('refuses another mchid in the body as MCH_NOT_EXISTS and another appid as APPID_MCHID_NOT_MATCH', async () => {
    const mchid = await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/native', nativeOrder(keys, tradeNo(), 100, { mchid: '1900000999' }));
    expect([mchid.status, mchid.json().code]).toEqual([400, 'MCH_NOT_EXISTS']);
    const appid = await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/native', nativeOrder(keys, tradeNo(), 100, { appid: 'wxother' }));
    expect([appid.status, appid.json().code]).toEqual([400, 'APPID_MCHID_NOT_MATCH']);
  });

  it('refuses malformed parameters with PARAM_ERROR', async () => {
    const bad = [
      nativeOrder(keys, 'short'),
      nativeOrder(keys, 'x'.repeat(33)),
      nativeOrder(keys, 'has space 123'),
      nativeOrder(keys, tradeNo(), 0),
      nativeOrder(keys, tradeNo(), 12.5),
      nativeOrder(keys, tradeNo(), 100, { amount: { total: 100, currency: 'USD' } }),
      nativeOrder(keys, tradeNo(), 100, { description: 'd'.repeat(128) }),
      nativeOrder(keys, tradeNo(), 100, { notify_url: 'https://example.com/notify?x=1' }),
      nativeOrder(keys, tradeNo(), 100, { time_expire: '2020-01-01T00:00:00+08:00' }),
    ];
    for (const body of bad) {
      const answer = await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/native', body);
      expect([answer.status, answer.json().code]).toEqual([400, 'PARAM_ERROR']);
    }
    const noOpenid = await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/jsapi', nativeOrder(keys, tradeNo()));
    expect([noOpenid.status, noOpenid.json().code]).toEqual([400, 'PARAM_ERROR']);
  });

  it('gives a fresh prepay_id for the same order again and refuses the out_trade_no with another amount', async () => {
    const outTradeNo = tradeNo();
    const body = nativeOrder(keys, outTradeNo, 300, { payer: { openid: 'o-1' } });
    const first = await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/jsapi', body);
    const second = await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/jsapi', body);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.json().prepay_id).not.toBe(first.json().prepay_id);
    const other = await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/jsapi', { ...body, amount: { total: 301, currency: 'CNY' } });
    expect([other.status, other.json().code]).toEqual([403, 'OUT_TRADE_NO_USED']);
    const otherChannel = await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/native', body);
    expect([otherChannel.status, otherChannel.json().code]).toEqual([403, 'OUT_TRADE_NO_USED']);
  });

  it('refuses to open a paid order (TRADE_ERROR, not the v2 ORDERPAID) or a closed one (ORDER_CLOSED)', async () => {
    const paid = tradeNo();
    await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/native', nativeOrder(keys, paid));
    await pay(paid);
    const again = await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/native', nativeOrder(keys, paid));
    expect([again.status, again.json().code]).toEqual([403, 'TRADE_ERROR']);

    const closed = tradeNo();
    await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/native', nativeOrder(keys, closed));
    expect((await close(closed)).status).toBe(204);
    const reopened = await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/native', nativeOrder(keys, closed));
    expect([reopened.status, reopened.json().code]).toEqual([400, 'ORDER_CLOSED']);
  });
});

describe('wechatpay: query and close', () => {
  it('answers 204 to closing an unknown order, a closed one and a paid one; a paid order stays paid', async () => {
    const unknown = await close(tradeNo());
    expect(unknown.status).toBe(204);
    expect(unknown.text).toBe('');
    expect(wechatAnswerVerifies(unknown, keys)).toBe(true);

    const outTradeNo = tradeNo();
    await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/native', nativeOrder(keys, outTradeNo));
    await pay(outTradeNo);
    expect((await close(outTradeNo)).status).toBe(204);
    expect((await close(outTradeNo)).status).toBe(204);
    const state = (await query(outTradeNo)).json();
    expect(state).toMatchObject({ trade_state: 'SUCCESS', transaction_id: expect.stringMatching(/^\d{28}$/), amount: { total: 1234, payer_total: 1234 } });
    expect(state.success_time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);
  });

  it('needs the mchid query parameter, ours', async () => {
    const outTradeNo = tradeNo();
    const missing = await wechatCall(sim, keys, 'GET', `/v3/pay/transactions/out-trade-no/${outTradeNo}`);
    expect([missing.status, missing.json().code]).toEqual([400, 'PARAM_ERROR']);
    const other = await wechatCall(sim, keys, 'GET', `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=1900000999`);
    expect([other.status, other.json().code]).toEqual([400, 'MCH_NOT_EXISTS']);
  });

  it('closes an order by itself once its time_expire has passed, and refuses to pay it then', async () => {
    const outTradeNo = tradeNo();
    const expireAt = new Date(Date.now() + 400);
    await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/native', nativeOrder(keys, outTradeNo, 100, { time_expire: expireAt.toISOString().replace('Z', '+00:00') }));
    expect((await query(outTradeNo)).json().trade_state).toBe('NOTPAY');
    await waitFor(() => Date.now() > expireAt.getTime() + 20, 2000, 'expiry');
    expect((await query(outTradeNo)).json().trade_state).toBe('CLOSED');
    const paid = await pay(outTradeNo);
    expect([paid.status, paid.json().code]).toEqual([409, 'ORDER_CLOSED']);
  });
});

describe('wechatpay: refunds', () => {
  async function paidOrder(total: number): Promise<string> {
    const outTradeNo = tradeNo();
    await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/native', nativeOrder(keys, outTradeNo, total));
    await pay(outTradeNo);
    return outTradeNo;
  }

  it('accepts a refund as PROCESSING, settles it SUCCESS later, and shows the order as REFUND', async () => {
    const outTradeNo = await paidOrder(1000);
    const accepted = await refund({ out_trade_no: outTradeNo, out_refund_no: `R1${outTradeNo}`, reason: 'return', amount: { refund: 400, total: 1000, currency: 'CNY' } });
    expect(accepted.status).toBe(200);
    expect(accepted.json()).toMatchObject({
      refund_id: expect.any(String),
      out_refund_no: `R1${outTradeNo}`,
      out_trade_no: outTradeNo,
      transaction_id: expect.any(String),
      channel: 'ORIGINAL',
      status: 'PROCESSING',
      create_time: expect.any(String),
      amount: { total: 1000, refund: 400, payer_total: 1000, payer_refund: 400, currency: 'CNY' },
    });
    const refundQuery = () => wechatCall(sim, keys, 'GET', `/v3/refund/domestic/refunds/R1${outTradeNo}`);
    await eventually(async () => (await control(sim, 'GET', `/sim/refunds/R1${outTradeNo}`)).json().status === 'SUCCESS', 'the refund to succeed');
    const answer = await refundQuery();
    expect(answer.json()).toMatchObject({ status: 'SUCCESS', success_time: expect.any(String), refund_id: accepted.json().refund_id });
    expect((await query(outTradeNo)).json().trade_state).toBe('REFUND');
  });

  it('answers the same out_refund_no with the same refund, never a second payout', async () => {
    const outTradeNo = await paidOrder(1000);
    const body = { out_trade_no: outTradeNo, out_refund_no: `R2${outTradeNo}`, amount: { refund: 1000, total: 1000, currency: 'CNY' } };
    const first = (await refund(body)).json();
    const second = (await refund(body)).json();
    expect(second.refund_id).toBe(first.refund_id);
    const ledger = (await control(sim, 'GET', `/sim/orders/${outTradeNo}`)).json();
    expect(ledger.refunds).toHaveLength(1);
    const reused = await refund({ ...body, amount: { refund: 10, total: 1000, currency: 'CNY' } });
    expect([reused.status, reused.json().code]).toEqual([400, 'INVALID_REQUEST']);
  });

  it('refuses over-refunds (NOT_ENOUGH), unpaid or unknown orders (RESOURCE_NOT_EXISTS) and a wrong total (PARAM_ERROR)', async () => {
    const outTradeNo = await paidOrder(1000);
    expect((await refund({ out_trade_no: outTradeNo, out_refund_no: `A${outTradeNo}`, amount: { refund: 700, total: 1000, currency: 'CNY' } })).status).toBe(200);
    const over = await refund({ out_trade_no: outTradeNo, out_refund_no: `B${outTradeNo}`, amount: { refund: 301, total: 1000, currency: 'CNY' } });
    expect([over.status, over.json().code]).toEqual([403, 'NOT_ENOUGH']);
    const wrongTotal = await refund({ out_trade_no: outTradeNo, out_refund_no: `C${outTradeNo}`, amount: { refund: 1, total: 999, currency: 'CNY' } });
    expect([wrongTotal.status, wrongTotal.json().code]).toEqual([400, 'PARAM_ERROR']);

    const unpaid = tradeNo();
    await wechatCall(sim, keys, 'POST', '/v3/pay/transactions/native', nativeOrder(keys, unpaid, 1000));
    for (const target of [unpaid, tradeNo()]) {
      const answer = await refund({ out_trade_no: target, out_refund_no: `D${target}`, amount: { refund: 1, total: 1000, currency: 'CNY' } });
      expect([answer.status, answer.json().code]).toEqual([404, 'RESOURCE_NOT_EXISTS']);
    }
    const unknownRefund = await wechatCall(sim, keys, 'GET', `/v3/refund/domestic/refunds/NOPE${outTradeNo}`);
    expect([unknownRefund.status, unknownRefund.json().code]).toEqual([404, 'RESOURCE_NOT_EXISTS']);
  });

  it('allows 50 refunds per order and refuses the 51st with RULE_LIMIT', async () => {
    const outTradeNo = await paidOrder(100);
    for (let i = 0; i < 50; i += 1) {
      const answer = await refund({ out_trade_no: outTradeNo, out_refund_no: `L${i}-${outTradeNo}`, amount: { refund: 1, total: 100, currency: 'CNY' } });
      expect(answer.status).toBe(200);
    }
    const limit = await refund({ out_trade_no: outTradeNo, out_refund_no: `L50-${outTradeNo}`, amount: { refund: 1, total: 100, currency: 'CNY' } });
    expect([limit.status, limit.json().code]).toEqual([403, 'RULE_LIMIT']);
  });
});
