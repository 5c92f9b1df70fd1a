import {
  type AlipayCallOptions,
  type Json,
  type TestKeys,
  alipayAnswer,
  alipayCall,
  alipaySdk,
  call,
  control,
  rsaPair,
  testKeys,
  tradeNo,
  useSim,
} from './support';

const keys: TestKeys = testKeys();
const sim = useSim(keys);

const sdk = (privateKey?: string) => alipaySdk(sim, keys, privateKey);

/** One gateway call signed by the test itself; the answer's sign checked; the `_response` value returned. */
async function gateway(method: string, biz: Record<string, unknown>, options: AlipayCallOptions = {}): Promise<Json> {
  return alipayAnswer(await alipayCall(sim, keys, method, biz, options), keys, method);
}

const precreate = (outTradeNo: string, amount = '12.34') => gateway('alipay.trade.precreate', { out_trade_no: outTradeNo, total_amount: amount, subject: 'Tea' });
const query = (outTradeNo: string) => gateway('alipay.trade.query', { out_trade_no: outTradeNo });
const closeTrade = (outTradeNo: string) => gateway('alipay.trade.close', { out_trade_no: outTradeNo });
const refund = (outTradeNo: string, amount: string, outRequestNo?: string) =>
  gateway('alipay.trade.refund', { out_trade_no: outTradeNo, refund_amount: amount, refund_reason: 'return', ...(outRequestNo ? { out_request_no: outRequestNo } : {}) });
const pay = (outTradeNo: string) => control(sim, 'POST', `/sim/orders/${outTradeNo}/pay`, { notify: 'never' });

describe('alipay: answers alipay-sdk accepts with validateSign', () => {
  it('precreates a QR order through exec()', async () => {
    const outTradeNo = tradeNo();
    const result = await sdk().exec('alipay.trade.precreate', { bizContent: { out_trade_no: outTradeNo, total_amount: '12.34', subject: 'Tea' } }, { validateSign: true });
    expect(result).toMatchObject({ code: '10000', msg: 'Success', outTradeNo, qrCode: `${sim.url}/cashier/alipay/${outTradeNo}` });
  });

  it('creates a mini-program trade with its trade_no at once, visible to query', async () => {
    const outTradeNo = tradeNo();
    const created = await sdk().exec(
      'alipay.trade.create',
      { bizContent: { out_trade_no: outTradeNo, total_amount: '0.01', subject: 'Tea', product_code: 'JSAPI_PAY', buyer_open_id: '074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5', op_app_id: '2021000000000002' } },
      { validateSign: true },
    );
    expect(created).toMatchObject({ code: '10000', outTradeNo, tradeNo: expect.stringMatching(/^\d{28}$/) });
    const found = await sdk().exec('alipay.trade.query', { bizContent: { out_trade_no: outTradeNo } }, { validateSign: true });
    expect(found).toMatchObject({ code: '10000', tradeNo: created.tradeNo, tradeStatus: 'WAIT_BUYER_PAY', totalAmount: '0.01' });
  });

  it('signs business failures too', async () => {
    const result = await sdk().exec('alipay.trade.query', { bizContent: { out_trade_no: tradeNo() } }, { validateSign: true });
    expect(result).toMatchObject({ code: '40004', msg: 'Business Failed', subCode: 'ACQ.TRADE_NOT_EXIST' });
  });
});

describe('alipay: request verification', () => {
  it('refuses a request signed with another key as isv.invalid-signature', async () => {
    const result = await sdk(rsaPair().privateKey).exec('alipay.trade.query', { bizContent: { out_trade_no: tradeNo() } }, { validateSign: true });
    expect(result).toMatchObject({ code: '40002', msg: 'Invalid Arguments', subCode: 'isv.invalid-signature' });
  });

  it('refuses another app_id as isv.invalid-app-id', async () => {
    const answer = await gateway('alipay.trade.query', { out_trade_no: tradeNo() }, { appId: '2021000000000999' });
    expect(answer).toMatchObject({ code: '40002', sub_code: 'isv.invalid-app-id' });
  });

  it('refuses a parameter changed after signing, RSA instead of RSA2 and a missing method', async () => {
    const outTradeNo = tradeNo();
    const changed = await gateway('alipay.trade.precreate', { out_trade_no: outTradeNo, total_amount: '1.00', subject: 'Tea' }, {
      sendInstead: { biz_content: JSON.stringify({ out_trade_no: outTradeNo, total_amount: '0.01', subject: 'Tea' }) },
    });
    expect(changed).toMatchObject({ code: '40002', sub_code: 'isv.invalid-signature' });
    const rsa = await gateway('alipay.trade.query', { out_trade_no: outTradeNo }, { extra: { sign_type: 'RSA' } });
    expect(rsa).toMatchObject({ code: '40002', sub_code: 'isv.invalid-signature-type' });
    const bare = await call(`${sim.url}/gateway.do`, { method: 'POST' });
    expect(JSON.parse(bare.text).error_response).toMatchObject({ code: '40001', sub_code: 'isv.missing-method' });
  });

  it('accepts the same call with every parameter in a GET query string', async () => {
    const outTradeNo = tradeNo();
    const answer = await alipayCall(sim, keys, 'alipay.trade.precreate', { out_trade_no: outTradeNo, total_amount: '1.00', subject: 'Tea' }, { get: true });
    expect(alipayAnswer(answer, keys, 'alipay.trade.precreate')).toMatchObject({ code: '10000', out_trade_no: outTradeNo });
  });

  it('refuses a parameter given twice', async () => {
    const doubled = await call(`${sim.url}/gateway.do?method=alipay.trade.query&method=alipay.trade.close`);
    expect(JSON.parse(doubled.text).error_response).toMatchObject({ code: '40002', sub_code: 'isv.invalid-parameter' });
  });
});

describe('alipay: trades', () => {
  it('does not know a precreate order (query and close) until the buyer opened it at the cashier', async () => {
    const outTradeNo = tradeNo();
    expect((await precreate(outTradeNo)).code).toBe('10000');
    expect(await query(outTradeNo)).toMatchObject({ code: '40004', sub_code: 'ACQ.TRADE_NOT_EXIST' });
    expect(await closeTrade(outTradeNo)).toMatchObject({ code: '40004', sub_code: 'ACQ.TRADE_NOT_EXIST' });

    const page = await call(`${sim.url}/cashier/alipay/${outTradeNo}`);
    expect(page.status).toBe(200);
    const opened = await query(outTradeNo);
    expect(opened).toMatchObject({ code: '10000', trade_status: 'WAIT_BUYER_PAY', total_amount: '12.34', trade_no: expect.any(String) });
    expect(opened).not.toHaveProperty('send_pay_date');

    expect(await closeTrade(outTradeNo)).toMatchObject({ code: '10000', out_trade_no: outTradeNo });
    expect((await query(outTradeNo)).trade_status).toBe('TRADE_CLOSED');
    expect(await closeTrade(outTradeNo)).toMatchObject({ code: '40004', sub_code: 'ACQ.TRADE_STATUS_ERROR' });
    const late = await pay(outTradeNo);
    expect([late.status, late.json().code]).toEqual([409, 'ORDER_CLOSED']);
  });

  it('makes a precreate order visible when a test pays it, with the buyer amount and payment time', async () => {
    const outTradeNo = tradeNo();
    await precreate(outTradeNo, '99.90');
    await pay(outTradeNo);
    expect(await query(outTradeNo)).toMatchObject({
      trade_status: 'TRADE_SUCCESS',
      total_amount: '99.90',
      buyer_pay_amount: '99.90',
      send_pay_date: expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/),
    });
    expect(await closeTrade(outTradeNo)).toMatchObject({ code: '40004', sub_code: 'ACQ.TRADE_STATUS_ERROR' });
  });

  it('answers the same order again alike, and refuses the out_trade_no with another amount (ACQ.CONTEXT_INCONSISTENT)', async () => {
    const outTradeNo = tradeNo();
    const first = await precreate(outTradeNo, '5.00');
    expect(await precreate(outTradeNo, '5.00')).toEqual(first);
    expect(await precreate(outTradeNo, '5.01')).toMatchObject({ code: '40004', sub_code: 'ACQ.CONTEXT_INCONSISTENT' });
    await pay(outTradeNo);
    expect(await precreate(outTradeNo, '5.00')).toMatchObject({ code: '40004', sub_code: 'ACQ.TRADE_HAS_SUCCESS' });
  });

  it('refuses amounts that are not yuan with at most two decimals', async () => {
    for (const amount of ['12.345', '-1.00', '0.00', '1e3', '12,00']) {
      expect(await precreate(tradeNo(), amount)).toMatchObject({ code: '40004', sub_code: 'ACQ.INVALID_PARAMETER' });
    }
  });
});

describe('alipay: refunds', () => {
  async function paidTrade(amount: string): Promise<string> {
    const outTradeNo = tradeNo();
    await precreate(outTradeNo, amount);
    await pay(outTradeNo);
    return outTradeNo;
  }

  it('refunds synchronously, needs out_request_no for a partial refund, and answers a repeat with the same result', async () => {
    const outTradeNo = await paidTrade('10.00');
    expect(await refund(outTradeNo, '3.00')).toMatchObject({ code: '40004', sub_code: 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL' });
    const first = await refund(outTradeNo, '3.00', 'r-1');
    expect(first).toMatchObject({ code: '10000', fund_change: 'Y', refund_fee: '3.00', out_trade_no: outTradeNo, trade_no: expect.any(String) });
    expect(await refund(outTradeNo, '3.00', 'r-1')).toEqual(first);
    expect((await control(sim, 'GET', `/sim/orders/${outTradeNo}`)).json().refunds).toHaveLength(1);
    expect(await refund(outTradeNo, '2.00', 'r-1')).toMatchObject({ code: '40004', sub_code: 'ACQ.DISCORDANT_REPEAT_REQUEST' });
    // refund_fee is the trade's refunded total.
    expect(await refund(outTradeNo, '2.00', 'r-2')).toMatchObject({ code: '10000', refund_fee: '5.00' });
    expect(await refund(outTradeNo, '5.01', 'r-3')).toMatchObject({ code: '40004', sub_code: 'ACQ.REASON_TRADE_REFUND_FEE_ERR' });
    expect((await query(outTradeNo)).trade_status).toBe('TRADE_SUCCESS');
    expect(await refund(outTradeNo, '5.00', 'r-4')).toMatchObject({ code: '10000', refund_fee: '10.00' });
    expect((await query(outTradeNo)).trade_status).toBe('TRADE_CLOSED');
    expect(await refund(outTradeNo, '0.01', 'r-5')).toMatchObject({ code: '40004', sub_code: 'ACQ.TRADE_STATUS_ERROR' });
  });

  it('refunds the whole amount without out_request_no, named by the trade', async () => {
    const outTradeNo = await paidTrade('8.00');
    expect(await refund(outTradeNo, '8.00')).toMatchObject({ code: '10000', refund_fee: '8.00' });
    expect(await gateway('alipay.trade.fastpay.refund.query', { out_trade_no: outTradeNo, out_request_no: outTradeNo })).toMatchObject({
      refund_status: 'REFUND_SUCCESS',
      refund_amount: '8.00',
    });
  });

  it('refuses to refund an unpaid trade (ACQ.TRADE_STATUS_ERROR)', async () => {
    const outTradeNo = tradeNo();
    await gateway('alipay.trade.create', { out_trade_no: outTradeNo, total_amount: '1.00', subject: 'Tea', product_code: 'JSAPI_PAY', buyer_open_id: 'o-1' });
    expect(await refund(outTradeNo, '1.00')).toMatchObject({ code: '40004', sub_code: 'ACQ.TRADE_STATUS_ERROR' });
  });

  it('reports a refund by out_request_no, and none (no refund_status) for an unknown one', async () => {
    const outTradeNo = await paidTrade('4.00');
    await refund(outTradeNo, '1.50', 'q-1');
    expect(await gateway('alipay.trade.fastpay.refund.query', { out_trade_no: outTradeNo, out_request_no: 'q-1' })).toMatchObject({
      code: '10000',
      refund_status: 'REFUND_SUCCESS',
      refund_amount: '1.50',
      total_amount: '4.00',
      out_request_no: 'q-1',
    });
    const unknown = await gateway('alipay.trade.fastpay.refund.query', { out_trade_no: outTradeNo, out_request_no: 'q-2' });
    expect(unknown.code).toBe('10000');
    expect(unknown).not.toHaveProperty('refund_status');
  });
});
