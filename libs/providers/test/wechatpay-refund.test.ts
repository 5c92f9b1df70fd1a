import { createDecipheriv, createVerify, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createWechatpayProvider, signWechatpayCallback, signWechatpayRefundCallback } from '../src';

const NOW = new Date('2025-01-15T08:00:00Z');
const serial = 'PUB_KEY_ID_0114232134912410000000000000000000';
const platform = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const apiV3Key = randomBytes(16).toString('hex');
const keys = { apiV3Key, platformPrivateKey: platform.privateKey, serial };

const refund = {
  notificationId: 'EV-R-1',
  mchid: '1900000109',
  paymentId: 'pay-1',
  transactionId: '4200000000000000000000000001',
  refundId: 'refund-1',
  providerRefundId: '50000000000000000000000000001',
  refundStatus: 'SUCCESS' as const,
  totalMinor: 9900,
  refundMinor: 1000,
};

/** Checks the signature and opens the resource with node:crypto alone, as a merchant would. */
function open(signed: { headers: Record<string, string>; rawBody: string }): { body: Record<string, unknown>; resource: Record<string, unknown> } {
  const verifier = createVerify('RSA-SHA256');
  verifier.update(`${signed.headers['wechatpay-timestamp']}\n${signed.headers['wechatpay-nonce']}\n${signed.rawBody}\n`);
  expect(verifier.verify(platform.publicKey, signed.headers['wechatpay-signature']!, 'base64')).toBe(true);
  const body = JSON.parse(signed.rawBody);
  const sealed = Buffer.from(body.resource.ciphertext, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(apiV3Key), Buffer.from(body.resource.nonce));
  decipher.setAAD(Buffer.from(body.resource.associated_data));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  const plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]).toString('utf8');
  return { body, resource: JSON.parse(plain) };
}

describe('wechatpay refund notifications: signing', () => {
  it('builds REFUND.SUCCESS with the refund resource sealed under associated data "refund"', () => {
    const signed = signWechatpayRefundCallback(refund, keys, NOW);
    expect(signed.headers).toMatchObject({ 'wechatpay-serial': serial, 'wechatpay-timestamp': String(NOW.getTime() / 1000) });
    const { body, resource } = open(signed);
    expect(body).toMatchObject({
      id: 'EV-R-1',
      event_type: 'REFUND.SUCCESS',
      resource_type: 'encrypt-resource',
      summary: '退款成功',
      resource: { original_type: 'refund', algorithm: 'AEAD_AES_256_GCM', associated_data: 'refund' },
    });
    expect(resource).toEqual({
      mchid: '1900000109',
      out_trade_no: 'pay-1',
      transaction_id: refund.transactionId,
      out_refund_no: 'refund-1',
      refund_id: refund.providerRefundId,
      refund_status: 'SUCCESS',
      success_time: '2025-01-15T16:00:00+08:00',
      user_received_account: '支付用户零钱',
      amount: { total: 9900, refund: 1000, payer_total: 9900, payer_refund: 1000 },
    });
  });

  it('builds REFUND.ABNORMAL and REFUND.CLOSED without a success time', () => {
    for (const refundStatus of ['ABNORMAL', 'CLOSED'] as const) {
      const { body, resource } = open(signWechatpayRefundCallback({ ...refund, refundStatus }, keys, NOW));
      expect(body.event_type).toBe(`REFUND.${refundStatus}`);
      expect(resource.refund_status).toBe(refundStatus);
      expect(resource).not.toHaveProperty('success_time');
    }
  });

  it('is verified as a refund result of the payment, not as a payment result', () => {
    const provider = createWechatpayProvider({ mchid: refund.mchid, appid: 'wxapp', apiV3Key, platformPublicKeys: { [serial]: platform.publicKey } });
    const signed = signWechatpayRefundCallback(refund, keys);
    expect(provider.verify({ headers: signed.headers, rawBody: Buffer.from(signed.rawBody) }, new Date())).toEqual({
      ok: true,
      notification: {
        provider: 'wechatpay',
        notificationId: 'EV-R-1',
        paymentId: 'pay-1',
        transactionId: refund.transactionId,
        outcome: 'success',
        amountMinor: 9900,
        refund: { refundId: 'refund-1', providerRefundId: refund.providerRefundId, status: 'succeeded', refundMinor: 1000 },
      },
    });
  });

  it('refuses a refund larger than the total or a fractional amount', () => {
    expect(() => signWechatpayRefundCallback({ ...refund, refundMinor: 9901 }, keys, NOW)).toThrow(RangeError);
    expect(() => signWechatpayRefundCallback({ ...refund, refundMinor: 0.5 }, keys, NOW)).toThrow(RangeError);
  });
});

describe('wechatpay payment notifications: trade type and payer', () => {
  it('carries the given trade type and openid, JSAPI and a simulated openid by default', () => {
    const input = {
      notificationId: 'EV-1',
      paymentId: 'pay-1',
      transactionId: '4200000000000000000000000001',
      tradeState: 'SUCCESS' as const,
      amountMinor: 100,
      mchid: '1900000109',
      appid: 'wxapp',
    };
    expect(open(signWechatpayCallback(input, keys, NOW)).resource).toMatchObject({ trade_type: 'JSAPI', payer: { openid: expect.any(String) } });
    const native = open(signWechatpayCallback({ ...input, tradeType: 'NATIVE', payerOpenid: 'o-payer' }, keys, NOW)).resource;
    expect(native).toMatchObject({ trade_type: 'NATIVE', payer: { openid: 'o-payer' } });
  });
});
