import { createPrivateKey, randomBytes } from 'node:crypto';
import { Formatter, Rsa } from 'wechatpay-axios-plugin';
import { type OpenRequest, createWechatpayClient, wechatpayPaySign } from '../src';
import { type CapturedRequest, rsaPair, useCaptureServer } from './support/capture-server';
import { rejection } from './support/rejection';

const merchant = rsaPair();
const platform = rsaPair();
const mchid = '1900000109';
const appid = 'wxd678efh567hg6787';
const merchantSerial = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
const platformSerial = 'PUB_KEY_ID_0114232134912410000000000000';

const server = useCaptureServer();

function client(overrides: { merchantPrivateKey?: string; timeoutMs?: number } = {}) {
  return createWechatpayClient({
    mchid,
    appid,
    merchantSerial,
    merchantPrivateKey: overrides.merchantPrivateKey ?? merchant.privateKey,
    platformSerial,
    platformPublicKey: platform.publicKey,
    baseUrl: server.url,
    notifyUrl: 'https://pay.example.com/callbacks/wechatpay',
    timeoutMs: overrides.timeoutMs ?? 2000,
  });
}

/** Answers as WeChat does: headers signing "timestamp\nnonce\nbody\n" with the platform key. */
function signedAnswer(status: number, body: string, key = platform.privateKey) {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(16).toString('hex');
  return {
    status,
    headers: {
      'content-type': 'application/json',
      'Wechatpay-Timestamp': timestamp,
      'Wechatpay-Nonce': nonce,
      'Wechatpay-Serial': platformSerial,
      'Wechatpay-Signature': Rsa.sign(Formatter.response(timestamp, nonce, body), key),
    },
    body,
  };
}

const order: OpenRequest = {
  paymentId: 'pay_0001',
  amountMinor: 1234,
  currency: 'CNY',
  description: 'Order 1',
  expiresAt: new Date('2025-01-15T08:30:00Z'),
  channel: 'native',
};

/** The Authorization header's parts: WECHATPAY2-SHA256-RSA2048 k="v",... */
function authorizationParts(request: CapturedRequest): Record<string, string> {
  const header = String(request.headers.authorization ?? '');
  expect(header.startsWith('WECHATPAY2-SHA256-RSA2048 ')).toBe(true);
  return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1], match[2]]));
}

describe('wechatpay client (local server)', () => {
  it('signs each request so that the plugin primitives verify it under the merchant public key', async () => {
    server.answer = () => signedAnswer(200, JSON.stringify({ trade_state: 'NOTPAY', amount: { total: 1234 } }));
    await client().query('pay_0001');
    const [request] = server.requests;
    if (!request) throw new Error('no request');
    expect(request.url).toBe(`/v3/pay/transactions/out-trade-no/pay_0001?mchid=${mchid}`);
    const parts = authorizationParts(request);
    expect(parts).toMatchObject({ mchid, serial_no: merchantSerial });
    const message = Formatter.request('GET', request.url, parts.timestamp ?? '', parts.nonce_str ?? '', '');
    expect(Rsa.verify(message, parts.signature ?? '', merchant.publicKey)).toBe(true);
    expect(Rsa.verify(message, parts.signature ?? '', rsaPair().publicKey)).toBe(false);
  });

  it('sends the documented native prepay body and covers it by the signature', async () => {
    server.answer = () => signedAnswer(200, JSON.stringify({ code_url: 'weixin://wxpay/bizpayurl?pr=abc' }));
    const longDescription = '商'.repeat(130);
    const opened = await client().open({ ...order, description: longDescription });
    expect(opened).toEqual({ channel: 'native', payParams: { code_url: 'weixin://wxpay/bizpayurl?pr=abc' }, providerOrderId: null });
    const [request] = server.requests;
    if (!request) throw new Error('no request');
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/v3/pay/transactions/native');
    expect(JSON.parse(request.body)).toEqual({
      appid,
      mchid,
      description: '商'.repeat(127),
      out_trade_no: 'pay_0001',
      time_expire: '2025-01-15T16:30:00+08:00',
      notify_url: 'https://pay.example.com/callbacks/wechatpay',
      amount: { total: 1234, currency: 'CNY' },
    });
    const parts = authorizationParts(request);
    const message = Formatter.request('POST', request.url, parts.timestamp ?? '', parts.nonce_str ?? '', request.body);
    expect(Rsa.verify(message, parts.signature ?? '', merchant.publicKey)).toBe(true);
  });

  it('returns jsapi pay_params whose paySign the plugin verifies under the merchant public key', async () => {
    server.answer = () => signedAnswer(200, JSON.stringify({ prepay_id: 'wx201410272009395522657a690389285100' }));
    const opened = await client().open({ ...order, channel: 'jsapi', payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } });
    expect(JSON.parse(server.requests[0]?.body ?? '{}')).toMatchObject({ payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } });
    expect(opened.providerOrderId).toBe('wx201410272009395522657a690389285100');
    const params = opened.payParams as { appId: string; timeStamp: string; nonceStr: string; package: string; signType: string; paySign: string };
    expect(params).toMatchObject({ appId: appid, package: 'prepay_id=wx201410272009395522657a690389285100', signType: 'RSA' });
    expect(params.timeStamp).toMatch(/^\d{10}$/);
    const message = Formatter.joinedByLineFeed(params.appId, params.timeStamp, params.nonceStr, params.package);
    expect(Rsa.verify(message, params.paySign, merchant.publicKey)).toBe(true);
  });

  it('computes paySign exactly as wx.requestPayment expects it', () => {
    const paySign = wechatpayPaySign(merchant.privateKey, appid, '1414561699', '5K8264ILTKCH16CQ2502SI8ZNMTM67VS', 'prepay_id=wx2014');
    const message = `${appid}\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id=wx2014\n`;
    expect(Rsa.verify(message, paySign, merchant.publicKey)).toBe(true);
  });

  it('refuses jsapi without payer.openid before any call', async () => {
    const error = await rejection(client().open({ ...order, channel: 'jsapi' }));
    expect(error).toMatchObject({ kind: 'rejected', code: 'payer_required' });
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a channel of another provider, a non-CNY currency, a fractional amount and a too long id before any call', async () => {
    await expect(client().open({ ...order, channel: 'precreate' })).rejects.toMatchObject({ kind: 'rejected', code: 'unsupported_channel' });
    await expect(client().open({ ...order, currency: 'USD' })).rejects.toMatchObject({ kind: 'rejected', code: 'unsupported_currency' });
    await expect(client().open({ ...order, amountMinor: 12.5 })).rejects.toMatchObject({ kind: 'rejected', code: 'invalid_amount' });
    // A UUID is 36 characters; WeChat takes 6-32.
    await expect(client().open({ ...order, paymentId: '3b241101-e2bb-4255-8caf-4136c566a962' })).rejects.toMatchObject({ kind: 'rejected', code: 'invalid_out_trade_no' });
    expect(server.requests).toHaveLength(0);
  });

  it('accepts a PKCS#1 merchant key', async () => {
    const pkcs1 = createPrivateKey(merchant.privateKey).export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(pkcs1).toContain('BEGIN RSA PRIVATE KEY');
    server.answer = () => signedAnswer(204, '');
    await client({ merchantPrivateKey: pkcs1 }).close('pay_0001');
    const request = server.requests[0];
    if (!request) throw new Error('no request');
    expect(request.url).toBe('/v3/pay/transactions/out-trade-no/pay_0001/close');
    expect(JSON.parse(request.body)).toEqual({ mchid });
    const parts = authorizationParts(request);
    expect(Rsa.verify(Formatter.request('POST', request.url, parts.timestamp ?? '', parts.nonce_str ?? '', request.body), parts.signature ?? '', merchant.publicKey)).toBe(true);
  });

  it('maps query answers, reporting the amount as the provider said it', async () => {
    server.answer = () => signedAnswer(200, JSON.stringify({ trade_state: 'SUCCESS', transaction_id: '4200001', amount: { total: 999, currency: 'CNY' } }));
    await expect(client().query('pay_0001')).resolves.toEqual({ state: 'paid', transactionId: '4200001', amountMinor: 999, providerState: 'SUCCESS' });
    server.answer = () => signedAnswer(404, JSON.stringify({ code: 'ORDER_NOT_EXIST', message: '订单不存在' }));
    await expect(client().query('pay_0001')).resolves.toMatchObject({ state: 'not_found', providerState: 'ORDER_NOT_EXIST' });
    server.answer = () => signedAnswer(200, JSON.stringify({ trade_state: 'SUCCESS', amount: { total: 12.5 } }));
    await expect(client().query('pay_0001')).rejects.toMatchObject({ kind: 'unknown', code: 'malformed_answer' });
  });

  it('never trusts an answer signed by another key, nor an unsigned one', async () => {
    server.answer = () => signedAnswer(200, JSON.stringify({ trade_state: 'SUCCESS', amount: { total: 1234 } }), rsaPair().privateKey);
    await expect(client().query('pay_0001')).rejects.toMatchObject({ kind: 'unknown', code: 'bad_response_signature' });
    server.answer = () => ({ status: 200, body: JSON.stringify({ trade_state: 'SUCCESS', amount: { total: 1234 } }) });
    await expect(client().query('pay_0001')).rejects.toMatchObject({ kind: 'unknown', code: 'bad_response_signature' });
  });

  it('classifies error answers and a silent server', async () => {
    server.answer = () => ({ status: 500, body: JSON.stringify({ code: 'SYSTEM_ERROR', message: 'busy' }) });
    await expect(client().close('pay_0001')).rejects.toMatchObject({ kind: 'retryable', code: 'SYSTEM_ERROR' });
    server.answer = () => ({ status: 401, body: JSON.stringify({ code: 'SIGN_ERROR', message: 'bad' }) });
    await expect(client().close('pay_0001')).rejects.toMatchObject({ kind: 'misconfigured', code: 'SIGN_ERROR' });
    server.answer = () => signedAnswer(403, JSON.stringify({ code: 'NOT_ENOUGH', message: 'no funds' }));
    await expect(
      client().refund({ paymentId: 'pay_0001', refundId: 'rf_1', amountMinor: 100, totalMinor: 1234, reason: 'r' }),
    ).rejects.toMatchObject({ kind: 'rejected', code: 'NOT_ENOUGH' });
    server.answer = () => 'hang';
    await expect(client({ timeoutMs: 200 }).query('pay_0001')).rejects.toMatchObject({ kind: 'unknown', code: 'timeout' });
  });

  it('maps refund states and a missing refund', async () => {
    server.answer = () => signedAnswer(200, JSON.stringify({ refund_id: '50000', out_refund_no: 'rf_1', status: 'ABNORMAL', amount: { refund: 100, total: 1234 } }));
    await expect(client().queryRefund('pay_0001', 'rf_1')).resolves.toEqual({ state: 'needs_attention', providerRefundId: '50000', amountMinor: 100, providerState: 'ABNORMAL' });
    expect(server.requests[0]?.url).toBe('/v3/refund/domestic/refunds/rf_1');
    server.answer = () => signedAnswer(404, JSON.stringify({ code: 'RESOURCE_NOT_EXISTS', message: '退款单不存在' }));
    await expect(client().queryRefund('pay_0001', 'rf_1')).resolves.toMatchObject({ state: 'not_found' });
  });

  it('refuses a configuration with an unreadable key, naming the field and not the key', () => {
    let caught: unknown;
    try {
      createWechatpayClient({ mchid, appid, merchantSerial, merchantPrivateKey: 'not a key', platformSerial, platformPublicKey: platform.publicKey, notifyUrl: 'https://x' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ kind: 'misconfigured', code: 'invalid_config' });
    expect(String((caught as Error).message)).toContain('merchantPrivateKey');
  });
});
