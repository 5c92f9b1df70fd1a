import { createPrivateKey, createSign } from 'node:crypto';
import { AlipaySdk } from 'alipay-sdk';
import { type OpenRequest, createAlipayClient } from '../src';
import { type CapturedRequest, rsaPair, useCaptureServer } from './support/capture-server';

const app = rsaPair();
const alipay = rsaPair();
const appId = '2021000122671080';

const server = useCaptureServer();

function client(overrides: { appPrivateKey?: string; timeoutMs?: number } = {}) {
  return createAlipayClient({
    appId,
    appPrivateKey: overrides.appPrivateKey ?? app.privateKey,
    alipayPublicKey: alipay.publicKey,
    gatewayUrl: `${server.url}/gateway.do`,
    notifyUrl: 'https://pay.example.com/callbacks/alipay',
    timeoutMs: overrides.timeoutMs ?? 2000,
  });
}

/** Every parameter of a gateway call: the SDK puts the common ones in the query, the rest in the form body. */
function gatewayParams(request: CapturedRequest): Record<string, string> {
  const query = new URL(request.url, 'http://x').searchParams;
  const form = new URLSearchParams(request.body);
  return Object.fromEntries([...query.entries(), ...form.entries()]);
}

function bizContent(request: CapturedRequest | undefined): Record<string, unknown> {
  if (!request) throw new Error('no request');
  return JSON.parse(gatewayParams(request).biz_content ?? '{}') as Record<string, unknown>;
}

/** Answers as the gateway does: `sign` over the raw `<method>_response` text, with Alipay's key. */
function signedAnswer(request: CapturedRequest, inner: Record<string, unknown>, options: { key?: string; envelope?: string; unsigned?: boolean } = {}) {
  const method = gatewayParams(request).method ?? '';
  const envelope = options.envelope ?? `${method.replaceAll('.', '_')}_response`;
  const innerText = JSON.stringify(inner);
  const sign = createSign('RSA-SHA256').update(innerText, 'utf8').sign(options.key ?? alipay.privateKey, 'base64');
  const body = options.unsigned ? `{"${envelope}":${innerText}}` : `{"${envelope}":${innerText},"sign":"${sign}"}`;
  return { status: 200, headers: { 'content-type': 'application/json;charset=utf-8' }, body };
}

const order: OpenRequest = {
  paymentId: 'pay_0002',
  amountMinor: 1234,
  currency: 'CNY',
  description: 'Order 2',
  expiresAt: new Date('2025-01-15T08:30:00Z'),
  channel: 'precreate',
};

describe('alipay client (local gateway)', () => {
  it("signs each call so that alipay-sdk's own notify-style verification accepts it under the app public key", async () => {
    server.answer = (request) => signedAnswer(request, { code: '10000', msg: 'Success', out_trade_no: 'pay_0002', qr_code: 'https://qr.alipay.com/bax1' });
    await client().open(order);
    const [request] = server.requests;
    if (!request) throw new Error('no request');
    const params = gatewayParams(request);
    expect(params).toMatchObject({ app_id: appId, method: 'alipay.trade.precreate', sign_type: 'RSA2', charset: 'utf-8', version: '1.0' });
    const verifier = new AlipaySdk({ appId, privateKey: app.privateKey, keyType: 'PKCS8', alipayPublicKey: app.publicKey });
    expect(verifier.checkNotifySignV2(params)).toBe(true);
    expect(verifier.checkNotifySignV2({ ...params, biz_content: params.biz_content?.replace('12.34', '12.35') })).toBe(false);
  });

  it('opens a precreate order with yuan amounts and China time, and returns its qr_code', async () => {
    server.answer = (request) => signedAnswer(request, { code: '10000', msg: 'Success', out_trade_no: 'pay_0002', qr_code: 'https://qr.alipay.com/bax1' });
    await expect(client().open(order)).resolves.toEqual({ channel: 'precreate', payParams: { qr_code: 'https://qr.alipay.com/bax1' }, providerOrderId: null });
    expect(bizContent(server.requests[0])).toEqual({ out_trade_no: 'pay_0002', total_amount: '12.34', subject: 'Order 2', time_expire: '2025-01-15 16:30:00' });
    expect(gatewayParams(server.requests[0] as CapturedRequest).notify_url).toBe('https://pay.example.com/callbacks/alipay');
  });

  it.each([
    [1, '0.01'],
    [10, '0.10'],
    [100, '1.00'],
    [123456789012, '1234567890.12'],
  ])('converts %i fen to "%s" yuan exactly', async (fen, yuan) => {
    server.answer = (request) => signedAnswer(request, { code: '10000', msg: 'Success', qr_code: 'q' });
    await client().open({ ...order, amountMinor: fen });
    expect(bizContent(server.requests[0]).total_amount).toBe(yuan);
  });

  it.each([
    ['12.34', 1234],
    ['0.1', 10],
    ['7', 700],
    ['1234567890.12', 123456789012],
  ])('reads "%s" yuan in a query answer as %i fen', async (yuan, fen) => {
    server.answer = (request) => signedAnswer(request, { code: '10000', msg: 'Success', trade_status: 'TRADE_SUCCESS', trade_no: '2025011522001', total_amount: yuan });
    await expect(client().query('pay_0002')).resolves.toEqual({ state: 'paid', transactionId: '2025011522001', amountMinor: fen, providerState: 'TRADE_SUCCESS' });
  });

  it.each(['12.345', '-1.00', '1e3', '12,34'])('treats an amount of "%s" as an unreadable answer', async (yuan) => {
    server.answer = (request) => signedAnswer(request, { code: '10000', msg: 'Success', trade_status: 'TRADE_SUCCESS', total_amount: yuan });
    await expect(client().query('pay_0002')).rejects.toMatchObject({ kind: 'unknown', code: 'malformed_answer' });
  });

  it('opens an alipay_jsapi order with trade.create and refuses one without buyer_open_id before any call', async () => {
    await expect(client().open({ ...order, channel: 'alipay_jsapi' })).rejects.toMatchObject({ kind: 'rejected', code: 'payer_required' });
    expect(server.requests).toHaveLength(0);
    server.answer = (request) => signedAnswer(request, { code: '10000', msg: 'Success', out_trade_no: 'pay_0002', trade_no: '2025011522002' });
    const opened = await client().open({ ...order, channel: 'alipay_jsapi', payer: { buyer_open_id: '074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5' } });
    expect(opened).toEqual({ channel: 'alipay_jsapi', payParams: { trade_no: '2025011522002' }, providerOrderId: '2025011522002' });
    expect(gatewayParams(server.requests[0] as CapturedRequest).method).toBe('alipay.trade.create');
    expect(bizContent(server.requests[0])).toMatchObject({ product_code: 'JSAPI_PAY', buyer_open_id: '074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5' });
  });

  it('accepts a PKCS#1 app key', async () => {
    const pkcs1 = createPrivateKey(app.privateKey).export({ type: 'pkcs1', format: 'pem' }).toString();
    server.answer = (request) => signedAnswer(request, { code: '10000', msg: 'Success' });
    await client({ appPrivateKey: pkcs1 }).close('pay_0002');
    const verifier = new AlipaySdk({ appId, privateKey: app.privateKey, keyType: 'PKCS8', alipayPublicKey: app.publicKey });
    expect(verifier.checkNotifySignV2(gatewayParams(server.requests[0] as CapturedRequest))).toBe(true);
  });

  it('resolves close when there is nothing to close or the trade is already final', async () => {
    for (const subCode of ['ACQ.TRADE_NOT_EXIST', 'ACQ.TRADE_STATUS_ERROR']) {
      server.answer = (request) => signedAnswer(request, { code: '40004', msg: 'Business Failed', sub_code: subCode, sub_msg: '-' });
      await expect(client().close('pay_0002')).resolves.toBeUndefined();
    }
    server.answer = (request) => signedAnswer(request, { code: '20000', msg: 'Service Currently Unavailable', sub_code: 'isp.unknow-error' });
    await expect(client().close('pay_0002')).rejects.toMatchObject({ kind: 'retryable' });
  });

  it('sends out_request_no on a full refund and confirms a fund_change N by query', async () => {
    server.answer = (request) =>
      gatewayParams(request).method === 'alipay.trade.refund'
        ? signedAnswer(request, { code: '10000', msg: 'Success', fund_change: 'N', refund_fee: '12.34' })
        : signedAnswer(request, { code: '10000', msg: 'Success', refund_status: 'REFUND_SUCCESS', refund_amount: '12.34', out_request_no: 'rf_2' });
    const status = await client().refund({ paymentId: 'pay_0002', refundId: 'rf_2', amountMinor: 1234, totalMinor: 1234, reason: 'customer asked' });
    expect(status).toEqual({ state: 'succeeded', providerRefundId: null, amountMinor: 1234, providerState: 'REFUND_SUCCESS' });
    expect(bizContent(server.requests[0])).toEqual({ out_trade_no: 'pay_0002', refund_amount: '12.34', out_request_no: 'rf_2', refund_reason: 'customer asked' });
    expect(bizContent(server.requests[1])).toEqual({ out_trade_no: 'pay_0002', out_request_no: 'rf_2' });
  });

  it('reads a refund query without refund_status as not found', async () => {
    server.answer = (request) => signedAnswer(request, { code: '10000', msg: 'Success', out_trade_no: 'pay_0002' });
    await expect(client().queryRefund('pay_0002', 'rf_9')).resolves.toMatchObject({ state: 'not_found' });
  });

  it('never trusts an answer signed by another key, nor an unsigned one', async () => {
    server.answer = (request) => signedAnswer(request, { code: '10000', msg: 'Success', trade_status: 'TRADE_SUCCESS', total_amount: '12.34' }, { key: rsaPair().privateKey });
    await expect(client().query('pay_0002')).rejects.toMatchObject({ kind: 'unknown', code: 'bad_response_signature' });
    server.answer = (request) => signedAnswer(request, { code: '10000', msg: 'Success', trade_status: 'TRADE_SUCCESS', total_amount: '12.34' }, { unsigned: true });
    await expect(client().query('pay_0002')).rejects.toMatchObject({ kind: 'unknown', code: 'bad_response_signature' });
  });

  it('reads a signed error_response (which the SDK alone would refuse) and classifies it', async () => {
    const invalidSignature = { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature', sub_msg: '验签出错' };
    server.answer = (request) => signedAnswer(request, invalidSignature, { envelope: 'error_response' });
    await expect(client().query('pay_0002')).rejects.toMatchObject({ kind: 'misconfigured', code: 'isv.invalid-signature' });
    server.answer = (request) => signedAnswer(request, invalidSignature, { envelope: 'error_response', key: rsaPair().privateKey });
    await expect(client().query('pay_0002')).rejects.toMatchObject({ kind: 'unknown', code: 'bad_response_signature' });
  });

  it('classifies a 5xx, an unreadable answer and a silent gateway', async () => {
    server.answer = () => ({ status: 502, body: 'bad gateway' });
    await expect(client().query('pay_0002')).rejects.toMatchObject({ kind: 'retryable', code: 'http_502' });
    server.answer = () => ({ status: 200, body: '<html>' });
    await expect(client().query('pay_0002')).rejects.toMatchObject({ kind: 'unknown', code: 'malformed_answer' });
    server.answer = () => 'hang';
    await expect(client({ timeoutMs: 200 }).query('pay_0002')).rejects.toMatchObject({ kind: 'unknown', code: 'timeout' });
  });
});
