import { createCipheriv, createDecipheriv, createSign, createVerify, generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  type CallbackRequest,
  MAX_CALLBACK_BYTES,
  type ProviderAdapter,
  type RejectReason,
  type VerifyResult,
  createWechatpayProvider,
  signWechatpayCallback,
  signWechatpayRefundCallback,
} from '../src';

const NOW = new Date('2025-01-15T08:00:00Z');
const nowSeconds = Math.floor(NOW.getTime() / 1000);
const mchid = '1900000109';
const appid = 'wxd678efh567hg6787';
const serial = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
const otherSerial = '7132D72A03E93CDDF8C03BBD1F37EEDF8EC30E2B';

function rsaPair(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

const platform = rsaPair();
const other = rsaPair();
const apiV3Key = randomBytes(16).toString('hex');
const keys = { apiV3Key, platformPrivateKey: platform.privateKey, serial };
const provider: ProviderAdapter = createWechatpayProvider({
  mchid,
  appid,
  apiV3Key,
  platformPublicKeys: { [serial]: platform.publicKey, [otherSerial]: other.publicKey },
});

const input = {
  notificationId: 'EV-2018022511223320873',
  paymentId: 'pay-1',
  transactionId: '1217752501201407033233368018',
  tradeState: 'SUCCESS' as const,
  amountMinor: 9900,
  mchid,
  appid,
};

/** Key material that must never appear in a detail: the APIv3 key and the middle of each private key. */
const secrets = [apiV3Key, platform.privateKey.slice(100, 164), other.privateKey.slice(100, 164)];

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

/** Seals a resource and signs a body as WeChat Pay does, independently of the code under test. */
function encrypt(plaintext: string, key = apiV3Key, nonce = 'abcdefghijkl', aad = 'transaction'): string {
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(key), Buffer.from(nonce));
  cipher.setAAD(Buffer.from(aad));
  return Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
}

function signRaw(rawBody: Buffer | string, options: { t?: number; privateKey?: string; serial?: string } = {}): CallbackRequest {
  const t = String(options.t ?? nowSeconds);
  const nonce = randomBytes(16).toString('hex');
  const bytes = Buffer.from(rawBody);
  const signer = createSign('RSA-SHA256');
  signer.update(Buffer.concat([Buffer.from(`${t}\n${nonce}\n`), bytes, Buffer.from('\n')]));
  return {
    headers: {
      'wechatpay-timestamp': t,
      'wechatpay-nonce': nonce,
      'wechatpay-signature': signer.sign(options.privateKey ?? platform.privateKey, 'base64'),
      'wechatpay-serial': options.serial ?? serial,
    },
    rawBody: bytes,
  };
}

function transaction(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mchid,
    appid,
    out_trade_no: 'pay-7',
    transaction_id: '4200000000000000000000000007',
    trade_type: 'JSAPI',
    trade_state: 'SUCCESS',
    trade_state_desc: '支付成功',
    success_time: '2025-01-15T16:00:00+08:00',
    amount: { total: 1999, payer_total: 1999, currency: 'CNY', payer_currency: 'CNY' },
    payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
    ...overrides,
  };
}

/** What verify makes of transaction(): the payment an independent implementation notifies. */
const independentPayment = {
  provider: 'wechatpay',
  notificationId: 'EV-7',
  paymentId: 'pay-7',
  transactionId: '4200000000000000000000000007',
  outcome: 'success',
  amountMinor: 1999,
} as const;

function envelope(resource: Record<string, unknown>, overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    id: 'EV-7',
    create_time: '2025-01-15T16:00:00+08:00',
    resource_type: 'encrypt-resource',
    event_type: 'TRANSACTION.SUCCESS',
    summary: '支付成功',
    resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', associated_data: 'transaction', nonce: 'abcdefghijkl', ...resource },
    ...overrides,
  });
}

function notificationOf(plain: Record<string, unknown>, overrides: Record<string, unknown> = {}): CallbackRequest {
  return signRaw(envelope({ ciphertext: encrypt(JSON.stringify(plain)) }, overrides));
}

describe('wechatpay provider: verify', () => {
  it('accepts a validly signed and encrypted success and normalizes it', () => {
    expect(provider.verify(toRequest(signWechatpayCallback(input, keys, NOW)), NOW)).toEqual({
      ok: true,
      notification: {
        provider: 'wechatpay',
        notificationId: 'EV-2018022511223320873',
        paymentId: 'pay-1',
        transactionId: '1217752501201407033233368018',
        outcome: 'success',
        amountMinor: 9900,
      },
    });
  });

  it('accepts PAYERROR, CLOSED and REVOKED as failures', () => {
    for (const tradeState of ['PAYERROR', 'CLOSED'] as const) {
      const result = provider.verify(toRequest(signWechatpayCallback({ ...input, tradeState }, keys, NOW)), NOW);
      expect(result).toEqual({ ok: true, notification: expect.objectContaining({ outcome: 'failure', amountMinor: 9900 }) });
    }
    const revoked = provider.verify(notificationOf(transaction({ trade_state: 'REVOKED', transaction_id: undefined })), NOW);
    expect(revoked).toEqual({ ok: true, notification: expect.objectContaining({ outcome: 'failure', transactionId: null, paymentId: 'pay-7' }) });
  });

  it('accepts a notification from an independent implementation of the protocol', () => {
    expect(provider.verify(notificationOf(transaction()), NOW)).toEqual({ ok: true, notification: independentPayment });
  });

  it('selects the platform key by serial', () => {
    const result = provider.verify(notificationOf(transaction()), NOW);
    expect(result.ok).toBe(true);
    const signedByOther = signRaw(envelope({ ciphertext: encrypt(JSON.stringify(transaction())) }), { privateKey: other.privateKey, serial: otherSerial });
    expect(provider.verify(signedByOther, NOW).ok).toBe(true);
  });

  it('refuses a body with one byte changed', () => {
    const request = toRequest(signWechatpayCallback(input, keys, NOW));
    const at = request.rawBody.indexOf('EV-');
    request.rawBody[at] = 'F'.charCodeAt(0);
    expectRejected(provider.verify(request, NOW), 'bad_signature');
  });

  it('refuses a changed timestamp, nonce or signature header', () => {
    const signed = toRequest(signWechatpayCallback(input, keys, NOW));
    const signature = signed.headers['wechatpay-signature']!;
    const changedSignature = (signature.startsWith('A') ? 'B' : 'A') + signature.slice(1);
    const changes: Record<string, string>[] = [
      { 'wechatpay-timestamp': String(nowSeconds + 1) },
      { 'wechatpay-nonce': `${signed.headers['wechatpay-nonce']}x` },
      { 'wechatpay-signature': changedSignature },
      { 'wechatpay-signature': signature.slice(4) },
      { 'wechatpay-signature': 'not base64 at all!' },
      { 'wechatpay-signature': `WECHATPAY/SIGNTEST/${signature}` },
      { 'wechatpay-signature-type': 'WECHATPAY2-SHA1-RSA' },
    ];
    for (const change of changes) {
      expectRejected(provider.verify({ ...signed, headers: { ...signed.headers, ...change } }, NOW), 'bad_signature');
    }
  });

  it('refuses an unknown serial, and a known serial with another key\'s signature', () => {
    expectRejected(provider.verify(toRequest(signWechatpayCallback(input, { ...keys, serial: 'FFFF' }, NOW)), NOW), 'unknown_serial');
    expectRejected(provider.verify(toRequest(signWechatpayCallback(input, { ...keys, serial: '__proto__' }, NOW)), NOW), 'unknown_serial');
    expectRejected(provider.verify(toRequest(signWechatpayCallback(input, { ...keys, serial: otherSerial }, NOW)), NOW), 'bad_signature');
  });

  it('refuses a timestamp more than 300 s in the past or the future, and accepts the edges', () => {
    for (const offset of [-301, 301, -7200]) {
      const signed = signWechatpayCallback(input, keys, new Date(NOW.getTime() + offset * 1000));
      expectRejected(provider.verify(toRequest(signed), NOW), 'stale_timestamp');
    }
    for (const offset of [-300, 300]) {
      expect(provider.verify(toRequest(signWechatpayCallback(input, keys, new Date(NOW.getTime() + offset * 1000))), NOW).ok).toBe(true);
    }
  });

  it('refuses a missing header of the four signed ones', () => {
    const signed = toRequest(signWechatpayCallback(input, keys, NOW));
    for (const name of ['wechatpay-timestamp', 'wechatpay-nonce', 'wechatpay-signature', 'wechatpay-serial']) {
      const headers = { ...signed.headers };
      delete headers[name];
      const result = provider.verify({ ...signed, headers }, NOW);
      expectRejected(result, 'missing_signature');
      expect(!result.ok && result.detail).toContain(name);
    }
  });

  it('refuses a non-numeric timestamp header as malformed', () => {
    const signed = toRequest(signWechatpayCallback(input, keys, NOW));
    expectRejected(provider.verify({ ...signed, headers: { ...signed.headers, 'wechatpay-timestamp': '17e8' } }, NOW), 'malformed');
  });

  it('refuses a signed body that is not JSON or not the v3 envelope', () => {
    expectRejected(provider.verify(signRaw('{"id": "EV-1"'), NOW), 'malformed');
    expectRejected(provider.verify(signRaw(JSON.stringify({ id: 'EV-1', event_type: 'TRANSACTION.SUCCESS' })), NOW), 'malformed');
    const shortNonce = signRaw(envelope({ ciphertext: encrypt('{}'), nonce: 'short' }));
    expectRejected(provider.verify(shortNonce, NOW), 'malformed');
  });

  it('refuses a wrong amount shape in the decrypted transaction', () => {
    const amounts: unknown[] = [
      { total: 99.5, currency: 'CNY' },
      { total: '9900', currency: 'CNY' },
      { total: -1, currency: 'CNY' },
      { total: 1e13, currency: 'CNY' },
      undefined,
    ];
    for (const amount of amounts) expectRejected(provider.verify(notificationOf(transaction({ amount })), NOW), 'malformed');
  });

  it('refuses a decrypted resource that is not JSON', () => {
    expectRejected(provider.verify(signRaw(envelope({ ciphertext: encrypt('not json') })), NOW), 'malformed');
  });

  it('refuses another merchant id or app id', () => {
    expectRejected(provider.verify(toRequest(signWechatpayCallback({ ...input, mchid: '1900000110' }, keys, NOW)), NOW), 'merchant_mismatch');
    expectRejected(provider.verify(toRequest(signWechatpayCallback({ ...input, appid: 'wx0000000000000000' }, keys, NOW)), NOW), 'merchant_mismatch');
  });

  it('refuses a malformed or altered ciphertext as decrypt_failed', () => {
    const sealed = Buffer.from(encrypt(JSON.stringify(transaction())), 'base64');
    sealed[3] = (sealed[3]! + 1) % 256;
    const ciphertexts = ['%%%not-base64%%%', Buffer.alloc(16).toString('base64'), sealed.toString('base64')];
    for (const ciphertext of ciphertexts) expectRejected(provider.verify(signRaw(envelope({ ciphertext })), NOW), 'decrypt_failed');
    const wrongAad = signRaw(envelope({ ciphertext: encrypt(JSON.stringify(transaction())), associated_data: 'certificate' }));
    expectRejected(provider.verify(wrongAad, NOW), 'decrypt_failed');
  });

  it('refuses a resource sealed with another APIv3 key', () => {
    const otherKey = randomBytes(16).toString('hex');
    expectRejected(provider.verify(toRequest(signWechatpayCallback(input, { ...keys, apiV3Key: otherKey }, NOW)), NOW), 'decrypt_failed');
    const misconfigured = createWechatpayProvider({ mchid, appid, apiV3Key: otherKey, platformPublicKeys: { [serial]: platform.publicKey } });
    const result = misconfigured.verify(toRequest(signWechatpayCallback(input, keys, NOW)), NOW);
    expectRejected(result, 'decrypt_failed');
    expect(!result.ok && result.detail).not.toContain(otherKey);
  });

  it('refuses other events, algorithms, currencies and trade states as unsupported', () => {
    expectRejected(provider.verify(notificationOf(transaction(), { event_type: 'REFUND.SUCCESS' }), NOW), 'unsupported_event');
    const refund = signRaw(envelope({ ciphertext: encrypt('{}'), original_type: 'refund' }));
    expectRejected(provider.verify(refund, NOW), 'unsupported_event');
    const otherAlgorithm = signRaw(envelope({ ciphertext: encrypt('{}'), algorithm: 'AEAD_SM4_GCM' }));
    expectRejected(provider.verify(otherAlgorithm, NOW), 'unsupported_event');
    const usd = transaction({ amount: { total: 100, payer_total: 100, currency: 'USD', payer_currency: 'USD' } });
    expectRejected(provider.verify(notificationOf(usd), NOW), 'unsupported_event');
    for (const state of ['NOTPAY', 'USERPAYING', 'REFUND']) {
      expectRejected(provider.verify(notificationOf(transaction({ trade_state: state })), NOW), 'unsupported_event');
    }
  });

  it('refuses a body that is not valid UTF-8, even when signed', () => {
    const bytes = Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    expectRejected(provider.verify(signRaw(bytes), NOW), 'malformed');
  });

  it('refuses a body over the size limit', () => {
    expectRejected(provider.verify(signRaw(Buffer.alloc(MAX_CALLBACK_BYTES + 1, 0x20)), NOW), 'body_too_large');
  });

  it('never throws, whatever it is given', () => {
    for (const request of [null, { headers: null, rawBody: null }, { headers: {}, rawBody: 'text' }]) {
      expect(provider.verify(request as unknown as CallbackRequest, NOW).ok).toBe(false);
    }
  });
});

/** A direct-merchant refund result as WeChat Pay decrypts it: no appid. */
function refundResource(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mchid,
    out_trade_no: 'pay-7',
    transaction_id: '4200000000000000000000000007',
    out_refund_no: 'refund-7',
    refund_id: '50300000000000000000000000007',
    refund_status: 'SUCCESS',
    success_time: '2025-01-15T16:00:00+08:00',
    user_received_account: '支付用户零钱',
    amount: { total: 1999, refund: 500, payer_total: 1999, payer_refund: 500 },
    ...overrides,
  };
}

function refundNotificationOf(plain: Record<string, unknown>, eventType = `REFUND.${String(plain.refund_status)}`): CallbackRequest {
  const ciphertext = encrypt(JSON.stringify(plain), apiV3Key, 'abcdefghijkl', 'refund');
  return signRaw(envelope({ ciphertext, original_type: 'refund', associated_data: 'refund' }, { event_type: eventType, summary: '退款成功' }));
}

describe('wechatpay provider: verify refund results', () => {
  const refundInput = {
    notificationId: 'EV-R-9',
    mchid,
    paymentId: 'pay-1',
    transactionId: input.transactionId,
    refundId: 'refund-1',
    providerRefundId: '50300000000000000000000000001',
    totalMinor: 9900,
    refundMinor: 1000,
  };

  it.each([
    ['SUCCESS', 'success', 'succeeded'],
    ['CLOSED', 'failure', 'failed'],
    ['ABNORMAL', 'failure', 'needs_attention'],
  ] as const)('accepts REFUND.%s as a %s with refund status %s, the paid total as its amount', (refundStatus, outcome, status) => {
    const signed = signWechatpayRefundCallback({ ...refundInput, refundStatus }, keys, NOW);
    expect(provider.verify(toRequest(signed), NOW)).toEqual({
      ok: true,
      notification: {
        provider: 'wechatpay',
        notificationId: 'EV-R-9',
        paymentId: 'pay-1',
        transactionId: input.transactionId,
        outcome,
        amountMinor: 9900,
        refund: { refundId: 'refund-1', providerRefundId: '50300000000000000000000000001', status, refundMinor: 1000 },
      },
    });
  });

  it('accepts a refund result from an independent implementation, which carries no appid', () => {
    expect(provider.verify(refundNotificationOf(refundResource()), NOW)).toEqual({
      ok: true,
      notification: {
        ...independentPayment,
        refund: { refundId: 'refund-7', providerRefundId: '50300000000000000000000000007', status: 'succeeded', refundMinor: 500 },
      },
    });
  });

  it('refuses a tampered refund notification: a changed byte, an altered ciphertext, another APIv3 key', () => {
    const signed = signWechatpayRefundCallback({ ...refundInput, refundStatus: 'SUCCESS' }, keys, NOW);
    expect(provider.verify(toRequest(signed), NOW).ok).toBe(true);
    expectRejected(provider.verify(toRequest({ ...signed, rawBody: signed.rawBody.replace('REFUND.SUCCESS', 'REFUND.CLOSED') }), NOW), 'bad_signature');

    const sealed = Buffer.from(encrypt(JSON.stringify(refundResource()), apiV3Key, 'abcdefghijkl', 'refund'), 'base64');
    sealed[3] = (sealed[3]! + 1) % 256;
    const altered = signRaw(envelope({ ciphertext: sealed.toString('base64'), original_type: 'refund', associated_data: 'refund' }, { event_type: 'REFUND.SUCCESS' }));
    expectRejected(provider.verify(altered, NOW), 'decrypt_failed');
    const otherKey = randomBytes(16).toString('hex');
    expectRejected(provider.verify(toRequest(signWechatpayRefundCallback({ ...refundInput, refundStatus: 'SUCCESS' }, { ...keys, apiV3Key: otherKey }, NOW)), NOW), 'decrypt_failed');
  });

  it('refuses a refund result for another merchant id', () => {
    expectRejected(provider.verify(toRequest(signWechatpayRefundCallback({ ...refundInput, mchid: '1900000110', refundStatus: 'SUCCESS' }, keys, NOW)), NOW), 'merchant_mismatch');
  });

  it('refuses refund amounts that are not exact integers of fen, or a refund over the total', () => {
    const amounts: unknown[] = [
      { total: 1999, refund: 500.5, payer_total: 1999, payer_refund: 500 },
      { total: 1999.5, refund: 500, payer_total: 1999, payer_refund: 500 },
      { total: 1999, refund: '500', payer_total: 1999, payer_refund: 500 },
      { total: 1999, refund: -500, payer_total: 1999, payer_refund: 500 },
      { total: 1999, refund: 0, payer_total: 1999, payer_refund: 0 },
      { total: 1999, refund: 2000, payer_total: 1999, payer_refund: 500 },
      { total: 1999, refund: 500, payer_total: 1999, payer_refund: 2000 },
      { total: 1999, refund: 500, payer_total: 1999 },
      undefined,
    ];
    for (const amount of amounts) expectRejected(provider.verify(refundNotificationOf(refundResource({ amount })), NOW), 'malformed');
  });

  it('refuses a refund resource without our refund id, the provider refund id or the transaction id', () => {
    for (const field of ['out_refund_no', 'refund_id', 'transaction_id', 'out_trade_no', 'user_received_account']) {
      expectRejected(provider.verify(refundNotificationOf(refundResource({ [field]: undefined })), NOW), 'malformed');
    }
    expectRejected(provider.verify(refundNotificationOf(refundResource({ out_refund_no: 'r'.repeat(65) })), NOW), 'malformed');
  });

  it('refuses an unknown refund status, and a status that contradicts the event type', () => {
    const processing = provider.verify(refundNotificationOf(refundResource({ refund_status: 'PROCESSING' }), 'REFUND.SUCCESS'), NOW);
    expectRejected(processing, 'unsupported_event');
    expect(!processing.ok && processing.detail).toContain('refund_status');
    expectRejected(provider.verify(refundNotificationOf(refundResource({ refund_status: 'PROCESSING' })), NOW), 'unsupported_event');
    expectRejected(provider.verify(refundNotificationOf(refundResource({ refund_status: 'CLOSED' }), 'REFUND.SUCCESS'), NOW), 'malformed');
  });

  it('refuses a refund in another currency than CNY', () => {
    const amount = { total: 1999, refund: 500, payer_total: 1999, payer_refund: 500, currency: 'USD' };
    const result = provider.verify(refundNotificationOf(refundResource({ amount })), NOW);
    expectRejected(result, 'unsupported_event');
    expect(!result.ok && result.detail).toContain('USD');
  });
});

describe('wechatpay provider: signing', () => {
  it('produces the v3 headers, envelope and encrypted transaction', () => {
    const signed = signWechatpayCallback(input, keys, NOW);
    expect(signed.headers).toMatchObject({
      'content-type': 'application/json',
      'wechatpay-timestamp': String(nowSeconds),
      'wechatpay-serial': serial,
      'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
    });
    expect(signed.headers['wechatpay-nonce']).toMatch(/^[A-Za-z0-9]{32}$/);
    const verifier = createVerify('RSA-SHA256');
    verifier.update(`${signed.headers['wechatpay-timestamp']}\n${signed.headers['wechatpay-nonce']}\n${signed.rawBody}\n`);
    expect(verifier.verify(platform.publicKey, signed.headers['wechatpay-signature']!, 'base64')).toBe(true);

    const body = JSON.parse(signed.rawBody);
    expect(body).toMatchObject({
      id: input.notificationId,
      create_time: '2025-01-15T16:00:00+08:00',
      resource_type: 'encrypt-resource',
      event_type: 'TRANSACTION.SUCCESS',
      resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', associated_data: 'transaction' },
    });
    expect(body.resource.nonce).toHaveLength(12);
    const sealed = Buffer.from(body.resource.ciphertext, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', Buffer.from(apiV3Key), Buffer.from(body.resource.nonce));
    decipher.setAAD(Buffer.from('transaction'));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const plain = JSON.parse(Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]).toString('utf8'));
    expect(plain).toMatchObject({
      mchid,
      appid,
      out_trade_no: 'pay-1',
      transaction_id: input.transactionId,
      trade_state: 'SUCCESS',
      success_time: '2025-01-15T16:00:00+08:00',
      amount: { total: 9900, payer_total: 9900, currency: 'CNY', payer_currency: 'CNY' },
      payer: { openid: expect.any(String) },
    });
  });

  it('round-trips every trade state through verify', () => {
    for (const tradeState of ['SUCCESS', 'PAYERROR', 'CLOSED'] as const) {
      const result = provider.verify(toRequest(signWechatpayCallback({ ...input, tradeState, amountMinor: 1 }, keys)), new Date());
      expect(result).toEqual({
        ok: true,
        notification: {
          provider: 'wechatpay',
          notificationId: input.notificationId,
          paymentId: input.paymentId,
          transactionId: input.transactionId,
          outcome: tradeState === 'SUCCESS' ? 'success' : 'failure',
          amountMinor: 1,
        },
      });
    }
  });

  it('refuses to sign a fractional amount', () => {
    expect(() => signWechatpayCallback({ ...input, amountMinor: 99.5 }, keys, NOW)).toThrow(RangeError);
  });
});

describe('wechatpay provider: answers and configuration', () => {
  it('acknowledges with 200 {"code":"SUCCESS","message":"成功"} as JSON', () => {
    expect(provider.acknowledge()).toEqual({
      status: 200,
      contentType: 'application/json; charset=utf-8',
      body: '{"code":"SUCCESS","message":"成功"}',
    });
  });

  it('refuses with {"code":"FAIL","message":...} and our status', () => {
    expect(provider.refuse(400, 'bad signature')).toEqual({
      status: 400,
      contentType: 'application/json; charset=utf-8',
      body: '{"code":"FAIL","message":"bad signature"}',
    });
    expect(provider.refuse(500, 'broker down').status).toBe(500);
    expect(provider.refuse(204, 'oops').status).toBe(500);
  });

  it('refuses an APIv3 key that is not 32 bytes, without echoing it', () => {
    const config = { mchid, appid, apiV3Key: 'too-short-key', platformPublicKeys: { [serial]: platform.publicKey } };
    expect(() => createWechatpayProvider(config)).toThrow(/32 bytes/);
    expect(() => createWechatpayProvider(config)).not.toThrow(/too-short-key/);
  });

  it('requires at least one platform key and RSA keys only', () => {
    expect(() => createWechatpayProvider({ mchid, appid, apiV3Key, platformPublicKeys: {} })).toThrow(/platform public key/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    expect(() => createWechatpayProvider({ mchid, appid, apiV3Key, platformPublicKeys: { [serial]: ec.publicKey } })).toThrow(/not an RSA key/);
  });
});
