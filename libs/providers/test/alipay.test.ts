import { createSign, generateKeyPairSync } from 'node:crypto';
import {
  type CallbackRequest,
  MAX_CALLBACK_BYTES,
  type RejectReason,
  type VerifyResult,
  createAlipayProvider,
  signAlipayCallback,
} from '../src';

const NOW = new Date('2025-01-15T08:00:00Z');
const NOW_CHINA = '2025-01-15 16:00:00';
const appId = '2021000000000001';

function rsaPair(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

const alipayKeys = rsaPair();
const otherKeys = rsaPair();
const provider = createAlipayProvider({ appId, alipayPublicKey: alipayKeys.publicKey });

const input = {
  notifyId: '2025011500222160000000000001',
  paymentId: 'pay-1',
  tradeNo: '2025011522001400000000000001',
  tradeStatus: 'TRADE_SUCCESS' as const,
  totalAmount: '99.00',
  appId,
};

const secrets = [alipayKeys.privateKey.slice(100, 164), otherKeys.privateKey.slice(100, 164)];

function expectRejected(result: VerifyResult, reason: RejectReason): void {
  expect(result).toMatchObject({ ok: false, reason });
  if (!result.ok) {
    expect(result.detail.length).toBeGreaterThan(0);
    for (const secret of secrets) expect(result.detail).not.toContain(secret);
  }
}

function toRequest(signed: { headers: Record<string, string>; rawBody: string }): CallbackRequest {
  return { headers: { ...signed.headers }, rawBody: Buffer.from(signed.rawBody) };
}

function params(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const all: Record<string, string | undefined> = {
    notify_time: NOW_CHINA,
    notify_type: 'trade_status_sync',
    notify_id: 'ntf-7',
    app_id: appId,
    charset: 'utf-8',
    version: '1.0',
    sign_type: 'RSA2',
    trade_no: '2025011522001400000000000007',
    out_trade_no: 'pay-7',
    trade_status: 'TRADE_SUCCESS',
    total_amount: '19.99',
    receipt_amount: '19.99',
    gmt_payment: NOW_CHINA,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** Signs parameters as Alipay does, independently of the code under test. */
function signParams(values: Record<string, string>, privateKey = alipayKeys.privateKey): Record<string, string> {
  const content = Object.keys(values)
    .filter((key) => key !== 'sign' && key !== 'sign_type' && values[key] !== '')
    .sort()
    .map((key) => `${key}=${values[key]}`)
    .join('&');
  const signer = createSign('RSA-SHA256');
  signer.update(content, 'utf8');
  return { ...values, sign: signer.sign(privateKey, 'base64') };
}

function formRequest(values: Record<string, string>): CallbackRequest {
  return {
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    rawBody: Buffer.from(new URLSearchParams(values).toString()),
  };
}

function signedRequest(overrides: Record<string, string | undefined> = {}): CallbackRequest {
  return formRequest(signParams(params(overrides)));
}

describe('alipay provider: verify', () => {
  it('accepts a validly signed TRADE_SUCCESS and normalizes it', () => {
    expect(provider.verify(toRequest(signAlipayCallback(input, alipayKeys.privateKey, NOW)), NOW)).toEqual({
      ok: true,
      notification: {
        provider: 'alipay',
        notificationId: input.notifyId,
        paymentId: 'pay-1',
        transactionId: input.tradeNo,
        outcome: 'success',
        amountMinor: 9900,
      },
    });
  });

  it('accepts TRADE_FINISHED as success and TRADE_CLOSED as failure', () => {
    const finished = provider.verify(toRequest(signAlipayCallback({ ...input, tradeStatus: 'TRADE_FINISHED' }, alipayKeys.privateKey, NOW)), NOW);
    expect(finished).toEqual({ ok: true, notification: expect.objectContaining({ outcome: 'success' }) });
    const closed = provider.verify(toRequest(signAlipayCallback({ ...input, tradeStatus: 'TRADE_CLOSED' }, alipayKeys.privateKey, NOW)), NOW);
    expect(closed).toEqual({ ok: true, notification: expect.objectContaining({ outcome: 'failure', amountMinor: 9900 }) });
  });

  it('accepts a notification from an independent implementation of the protocol', () => {
    expect(provider.verify(signedRequest(), NOW)).toEqual({
      ok: true,
      notification: {
        provider: 'alipay',
        notificationId: 'ntf-7',
        paymentId: 'pay-7',
        transactionId: '2025011522001400000000000007',
        outcome: 'success',
        amountMinor: 1999,
      },
    });
  });

  it('signs URL-decoded values and leaves out empty ones', () => {
    const values = signParams(params({ subject: '测试 订单 & more+1=2', body: '' }));
    const encoded = Object.entries(values)
      .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
      .join('&');
    expect(provider.verify({ headers: {}, rawBody: Buffer.from(encoded) }, NOW).ok).toBe(true);
    expect(provider.verify(formRequest(values), NOW).ok).toBe(true);
  });

  it('refuses a body with one byte changed', () => {
    const request = toRequest(signAlipayCallback(input, alipayKeys.privateKey, NOW));
    const at = request.rawBody.indexOf('total_amount=99.00') + 'total_amount='.length;
    request.rawBody[at] = '1'.charCodeAt(0);
    expectRejected(provider.verify(request, NOW), 'bad_signature');
  });

  it('refuses a changed notify_time, sign or an added parameter', () => {
    const signed = signParams(params());
    expectRejected(provider.verify(formRequest({ ...signed, notify_time: '2025-01-15 16:00:01' }), NOW), 'bad_signature');
    const sign = signed.sign!;
    expectRejected(provider.verify(formRequest({ ...signed, sign: (sign.startsWith('A') ? 'B' : 'A') + sign.slice(1) }), NOW), 'bad_signature');
    expectRejected(provider.verify(formRequest({ ...signed, sign: sign.replace(/\+/g, ' ') + ' ' }), NOW), 'bad_signature');
    expectRejected(provider.verify(formRequest({ ...signed, seller_id: '2088000000000000' }), NOW), 'bad_signature');
  });

  it('refuses a notification signed with another key', () => {
    expectRejected(provider.verify(toRequest(signAlipayCallback(input, otherKeys.privateKey, NOW)), NOW), 'bad_signature');
  });

  it('refuses a sign_type other than RSA2', () => {
    expectRejected(provider.verify(formRequest(signParams(params({ sign_type: 'RSA' }))), NOW), 'bad_signature');
  });

  it('refuses a missing sign', () => {
    expectRejected(provider.verify(formRequest(params()), NOW), 'missing_signature');
    expectRejected(provider.verify(formRequest({ ...params(), sign: '' }), NOW), 'missing_signature');
  });

  it('refuses a notify_time more than 300 s in the past or the future, and accepts the edges', () => {
    for (const offset of [-301, 301, -86400]) {
      const signed = signAlipayCallback(input, alipayKeys.privateKey, new Date(NOW.getTime() + offset * 1000));
      expectRejected(provider.verify(toRequest(signed), NOW), 'stale_timestamp');
    }
    for (const offset of [-300, 300]) {
      expect(provider.verify(toRequest(signAlipayCallback(input, alipayKeys.privateKey, new Date(NOW.getTime() + offset * 1000))), NOW).ok).toBe(true);
    }
  });

  it('reads notify_time as China time (UTC+8)', () => {
    expectRejected(provider.verify(signedRequest({ notify_time: '2025-01-15 08:00:00' }), NOW), 'stale_timestamp');
  });

  it('refuses a missing or unreadable notify_time as malformed', () => {
    for (const notifyTime of [undefined, '2025-01-15T16:00:00', '2025-13-15 16:00:00', '2025-02-30 16:00:00', '2025-01-15 24:00:00']) {
      expectRejected(provider.verify(signedRequest({ notify_time: notifyTime }), NOW), 'malformed');
    }
  });

  it('refuses a wrong amount shape or a missing required parameter', () => {
    for (const totalAmount of ['99.001', '-1.00', '1e3', '99,00', ' 99.00']) {
      expectRejected(provider.verify(signedRequest({ total_amount: totalAmount }), NOW), 'malformed');
    }
    for (const name of ['out_trade_no', 'notify_id', 'trade_status', 'total_amount', 'app_id']) {
      expectRejected(provider.verify(signedRequest({ [name]: undefined }), NOW), 'malformed');
    }
  });

  it('refuses a malformed form body', () => {
    const signed = new URLSearchParams(signParams(params())).toString();
    for (const raw of [`${signed}&subject=%E4%B8`, `${signed}&subject=%zz`, `${signed}&out_trade_no=pay-8`, `${signed}&=x`]) {
      expectRejected(provider.verify({ headers: {}, rawBody: Buffer.from(raw) }, NOW), 'malformed');
    }
  });

  it('refuses a charset other than utf-8', () => {
    expectRejected(provider.verify(signedRequest({ charset: 'gbk' }), NOW), 'malformed');
  });

  it('refuses another app id', () => {
    expectRejected(provider.verify(toRequest(signAlipayCallback({ ...input, appId: '2021000000000002' }, alipayKeys.privateKey, NOW)), NOW), 'merchant_mismatch');
  });

  it('refuses other trade states and notify types as unsupported', () => {
    for (const status of ['WAIT_BUYER_PAY', 'TRADE_PENDING']) {
      expectRejected(provider.verify(signedRequest({ trade_status: status }), NOW), 'unsupported_event');
    }
    expectRejected(provider.verify(signedRequest({ notify_type: 'batch_trans_notify' }), NOW), 'unsupported_event');
  });

  it('refuses a body that is not valid UTF-8, even when otherwise signed', () => {
    const signed = new URLSearchParams(signParams(params())).toString();
    const bytes = Buffer.concat([Buffer.from(`${signed}&subject=`), Buffer.from([0xe4, 0xb8])]);
    expectRejected(provider.verify({ headers: {}, rawBody: bytes }, NOW), 'malformed');
  });

  it('refuses a body over the size limit', () => {
    const big = new URLSearchParams(signParams(params({ subject: 'x'.repeat(MAX_CALLBACK_BYTES) }))).toString();
    expectRejected(provider.verify({ headers: {}, rawBody: Buffer.from(big) }, NOW), 'body_too_large');
  });

  it('never throws, whatever it is given', () => {
    for (const request of [null, { headers: {}, rawBody: 'app_id=1' }, { headers: {}, rawBody: Buffer.from('&&&=&') }]) {
      expect(provider.verify(request as unknown as CallbackRequest, NOW).ok).toBe(false);
    }
  });
});

describe('alipay provider: signing', () => {
  it('posts the usual notify parameters, form-encoded, with an RSA2 sign', () => {
    const signed = signAlipayCallback(input, alipayKeys.privateKey, NOW);
    expect(signed.headers).toEqual({ 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
    const values = Object.fromEntries(new URLSearchParams(signed.rawBody));
    expect(values).toMatchObject({
      notify_time: NOW_CHINA,
      notify_type: 'trade_status_sync',
      notify_id: input.notifyId,
      app_id: appId,
      charset: 'utf-8',
      version: '1.0',
      sign_type: 'RSA2',
      trade_no: input.tradeNo,
      out_trade_no: input.paymentId,
      trade_status: 'TRADE_SUCCESS',
      total_amount: '99.00',
      receipt_amount: '99.00',
      gmt_payment: NOW_CHINA,
    });
    const { sign, ...rest } = values;
    expect(signParams(rest).sign).toBe(sign);
  });

  it('round-trips through verify for each trade status', () => {
    for (const tradeStatus of ['TRADE_SUCCESS', 'TRADE_FINISHED', 'TRADE_CLOSED'] as const) {
      const result = provider.verify(toRequest(signAlipayCallback({ ...input, tradeStatus, totalAmount: '0.01' }, alipayKeys.privateKey)), new Date());
      expect(result).toEqual({
        ok: true,
        notification: {
          provider: 'alipay',
          notificationId: input.notifyId,
          paymentId: input.paymentId,
          transactionId: input.tradeNo,
          outcome: tradeStatus === 'TRADE_CLOSED' ? 'failure' : 'success',
          amountMinor: 1,
        },
      });
    }
  });
});

describe('alipay provider: answers and configuration', () => {
  it('acknowledges with the plain text success', () => {
    expect(provider.acknowledge()).toEqual({ status: 200, contentType: 'text/plain; charset=utf-8', body: 'success' });
  });

  it('refuses with the plain text failure and our status', () => {
    expect(provider.refuse(400, 'bad signature')).toEqual({ status: 400, contentType: 'text/plain; charset=utf-8', body: 'failure' });
    expect(provider.refuse(503, 'broker down').status).toBe(503);
    expect(provider.refuse(200, 'oops').status).toBe(500);
  });

  it('accepts the public key as bare base64, as the Alipay console shows it', () => {
    const bare = alipayKeys.publicKey.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    const fromBare = createAlipayProvider({ appId, alipayPublicKey: bare });
    expect(fromBare.verify(toRequest(signAlipayCallback(input, alipayKeys.privateKey, NOW)), NOW).ok).toBe(true);
  });

  it('requires an app id and an RSA public key', () => {
    expect(() => createAlipayProvider({ appId: '', alipayPublicKey: alipayKeys.publicKey })).toThrow(/appId/);
    expect(() => createAlipayProvider({ appId, alipayPublicKey: 'not a key' })).toThrow();
  });
});
