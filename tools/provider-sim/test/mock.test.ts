import { signMockRequest, verifyMockAnswer } from '@pay/providers';
import { type HttpAnswer, type TestKeys, call, control, testKeys, tradeNo, useSim } from './support';

const keys: TestKeys = testKeys();
const sim = useSim(keys);

async function mockCall(method: string, path: string, body?: unknown, options: { secret?: string; now?: Date; sendInstead?: string } = {}): Promise<HttpAnswer> {
  const raw = body === undefined ? '' : JSON.stringify(body);
  const signature = signMockRequest(options.secret ?? keys.mockSecret, method, path, raw, options.now);
  const answer = await call(`${sim.url}${path}`, {
    method,
    headers: { 'x-mock-signature': signature, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: options.sendInstead ?? raw }),
  });
  // Every answer, errors and 204 included, is signed.
  expect(verifyMockAnswer(keys.mockSecret, answer.headers.get('x-mock-signature') ?? undefined, answer.text)).toEqual({ ok: true });
  return answer;
}

const order = (outTradeNo: string, amount = '12.34') => mockCall('POST', '/mock/v1/orders', { out_trade_no: outTradeNo, amount, description: 'Tea' });
const pay = (outTradeNo: string) => control(sim, 'POST', `/sim/orders/${outTradeNo}/pay`, { notify: 'never' });

describe('mock provider: orders', () => {
  it('opens an order with a cashier_url, the same again for the same amount, and refuses another amount', async () => {
    const outTradeNo = tradeNo();
    const first = await order(outTradeNo);
    expect(first.status).toBe(200);
    expect(first.json()).toEqual({ out_trade_no: outTradeNo, cashier_url: `${sim.url}/cashier/mock/${outTradeNo}`, status: 'NOTPAY' });
    expect((await order(outTradeNo)).json()).toEqual(first.json());
    const other = await order(outTradeNo, '12.35');
    expect([other.status, other.json().code]).toEqual([409, 'OUT_TRADE_NO_USED']);
  });

  it('answers a query with status, transaction id and amount; 404 ORDER_NOT_EXIST for an unknown order', async () => {
    const outTradeNo = tradeNo();
    await order(outTradeNo, '7.00');
    expect((await mockCall('GET', `/mock/v1/orders/${outTradeNo}`)).json()).toEqual({ out_trade_no: outTradeNo, status: 'NOTPAY', transaction_id: null, amount: '7.00' });
    await pay(outTradeNo);
    expect((await mockCall('GET', `/mock/v1/orders/${outTradeNo}`)).json()).toMatchObject({ status: 'SUCCESS', transaction_id: expect.stringMatching(/^mock_txn_/) });
    const unknown = await mockCall('GET', `/mock/v1/orders/${tradeNo()}`);
    expect([unknown.status, unknown.json().code]).toEqual([404, 'ORDER_NOT_EXIST']);
  });

  it('closes with 204, unknown orders included; a paid order stays paid', async () => {
    const unknown = await mockCall('POST', `/mock/v1/orders/${tradeNo()}/close`);
    expect([unknown.status, unknown.text]).toEqual([204, '']);
    const open = tradeNo();
    await order(open);
    expect((await mockCall('POST', `/mock/v1/orders/${open}/close`)).status).toBe(204);
    expect((await mockCall('GET', `/mock/v1/orders/${open}`)).json().status).toBe('CLOSED');
    const paid = tradeNo();
    await order(paid);
    await pay(paid);
    expect((await mockCall('POST', `/mock/v1/orders/${paid}/close`)).status).toBe(204);
    expect((await mockCall('GET', `/mock/v1/orders/${paid}`)).json().status).toBe('SUCCESS');
  });

  it('refuses unknown fields, bad amounts and a missing description with 400 INVALID_REQUEST', async () => {
    const bodies = [
      { out_trade_no: tradeNo(), amount: '1.00', description: 'Tea', extra: 1 },
      { out_trade_no: tradeNo(), amount: '1.001', description: 'Tea' },
      { out_trade_no: tradeNo(), amount: '0.00', description: 'Tea' },
      { out_trade_no: tradeNo(), amount: 1, description: 'Tea' },
      { out_trade_no: tradeNo(), amount: '1.00' },
    ];
    for (const body of bodies) {
      const answer = await mockCall('POST', '/mock/v1/orders', body);
      expect([answer.status, answer.json().code]).toEqual([400, 'INVALID_REQUEST']);
    }
  });
});

describe('mock provider: request signatures', () => {
  it('refuses another secret, a stale signature, a changed body and a missing header with 401 SIGN_ERROR', async () => {
    const body = { out_trade_no: tradeNo(), amount: '1.00', description: 'Tea' };
    const attempts = [
      mockCall('POST', '/mock/v1/orders', body, { secret: `${keys.mockSecret}x` }),
      mockCall('POST', '/mock/v1/orders', body, { now: new Date(Date.now() - 301_000) }),
      mockCall('POST', '/mock/v1/orders', body, { sendInstead: JSON.stringify({ ...body, amount: '0.01' }) }),
    ];
    for (const answer of await Promise.all(attempts)) expect([answer.status, answer.json().code]).toEqual([401, 'SIGN_ERROR']);
    const bare = await call(`${sim.url}/mock/v1/orders/${body.out_trade_no}`);
    expect([bare.status, bare.json().code]).toEqual([401, 'SIGN_ERROR']);
  });

  it('binds the signature to the method and path', async () => {
    const outTradeNo = tradeNo();
    const signature = signMockRequest(keys.mockSecret, 'GET', `/mock/v1/orders/${outTradeNo}`, '');
    const elsewhere = await call(`${sim.url}/mock/v1/refunds/${outTradeNo}`, { headers: { 'x-mock-signature': signature } });
    expect(elsewhere.status).toBe(401);
  });
});

describe('mock provider: refunds', () => {
  it('refunds synchronously, answers the same out_refund_no with the same refund, and refuses more than was paid', async () => {
    const outTradeNo = tradeNo();
    await order(outTradeNo, '10.00');
    const early = await mockCall('POST', '/mock/v1/refunds', { out_trade_no: outTradeNo, out_refund_no: `R${outTradeNo}`, amount: '1.00', reason: 'x' });
    expect([early.status, early.json().code]).toEqual([409, 'ORDER_NOT_PAID']);
    await pay(outTradeNo);
    const body = { out_trade_no: outTradeNo, out_refund_no: `R${outTradeNo}`, amount: '6.00', reason: 'return' };
    const first = await mockCall('POST', '/mock/v1/refunds', body);
    expect(first.json()).toEqual({ out_refund_no: `R${outTradeNo}`, refund_id: expect.stringMatching(/^mock_rfd_/), out_trade_no: outTradeNo, amount: '6.00', status: 'SUCCESS' });
    expect((await mockCall('POST', '/mock/v1/refunds', body)).json()).toEqual(first.json());
    const reused = await mockCall('POST', '/mock/v1/refunds', { ...body, amount: '1.00' });
    expect([reused.status, reused.json().code]).toEqual([409, 'OUT_REFUND_NO_USED']);
    const over = await mockCall('POST', '/mock/v1/refunds', { ...body, out_refund_no: `S${outTradeNo}`, amount: '4.01' });
    expect([over.status, over.json().code]).toEqual([409, 'NOT_ENOUGH']);
    expect((await mockCall('GET', `/mock/v1/refunds/R${outTradeNo}`)).json()).toEqual(first.json());
    const unknown = await mockCall('GET', `/mock/v1/refunds/NOPE${outTradeNo}`);
    expect([unknown.status, unknown.json().code]).toEqual([404, 'REFUND_NOT_EXIST']);
    const missing = await mockCall('POST', '/mock/v1/refunds', { ...body, out_trade_no: tradeNo(), out_refund_no: `T${outTradeNo}` });
    expect([missing.status, missing.json().code]).toEqual([404, 'ORDER_NOT_EXIST']);
  });
});
