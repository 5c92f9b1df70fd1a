import { createPrivateKey, createPublicKey } from 'node:crypto';
import { providerName } from '@pay/contracts';
import {
  type CallbackRequest,
  MAX_CALLBACK_BYTES,
  type ProviderName,
  TIMESTAMP_TOLERANCE_SECONDS,
  createProviders,
  generateDevKeys,
  signAlipayCallback,
  signMockCallback,
  signWechatpayCallback,
} from '../src';

const dev = generateDevKeys();

function toRequest(signed: { headers: Record<string, string>; rawBody: string }): CallbackRequest {
  return { headers: { ...signed.headers }, rawBody: Buffer.from(signed.rawBody) };
}

describe('createProviders', () => {
  it('builds only the configured providers', () => {
    expect(Object.keys(createProviders({}))).toEqual([]);
    const some = createProviders({ mock: { secret: 's3cr3t-value' } });
    expect(Object.keys(some)).toEqual(['mock']);
    expect(some.mock?.name).toBe('mock');
  });

  it('builds all three from dev keys, and each verifies what its signer produces', () => {
    const providers = createProviders({
      mock: { secret: 'mock-secret-for-this-test' },
      wechatpay: {
        mchid: '1900000109',
        appid: 'wx0000000000000001',
        apiV3Key: dev.wechatpay.apiV3Key,
        platformPublicKeys: { [dev.wechatpay.serial]: dev.wechatpay.platformPublicKey },
      },
      alipay: { appId: '2021000000000001', alipayPublicKey: dev.alipay.publicKey },
    });
    expect(Object.keys(providers).sort()).toEqual(['alipay', 'mock', 'wechatpay']);

    const mock = signMockCallback(
      { notification_id: 'n1', payment_id: 'p1', transaction_id: 't1', status: 'SUCCESS', amount: '5.00' },
      'mock-secret-for-this-test',
    );
    const wechat = signWechatpayCallback(
      { notificationId: 'n2', paymentId: 'p2', transactionId: 't2', tradeState: 'SUCCESS', amountMinor: 500, mchid: '1900000109', appid: 'wx0000000000000001' },
      { apiV3Key: dev.wechatpay.apiV3Key, platformPrivateKey: dev.wechatpay.platformPrivateKey, serial: dev.wechatpay.serial },
    );
    const alipay = signAlipayCallback(
      { notifyId: 'n3', paymentId: 'p3', tradeNo: 't3', tradeStatus: 'TRADE_SUCCESS', totalAmount: '5.00', appId: '2021000000000001' },
      dev.alipay.privateKey,
    );
    const now = new Date();
    const results = [providers.mock!.verify(toRequest(mock), now), providers.wechatpay!.verify(toRequest(wechat), now), providers.alipay!.verify(toRequest(alipay), now)];
    expect(results.map((result) => result.ok && [result.notification.provider, result.notification.paymentId, result.notification.amountMinor])).toEqual([
      ['mock', 'p1', 500],
      ['wechatpay', 'p2', 500],
      ['alipay', 'p3', 500],
    ]);
  });

  it('does not let one provider verify another provider\'s callback', () => {
    const providers = createProviders({ mock: { secret: 'mock-secret-for-this-test' }, alipay: { appId: '2021000000000001', alipayPublicKey: dev.alipay.publicKey } });
    const alipay = signAlipayCallback(
      { notifyId: 'n3', paymentId: 'p3', tradeNo: 't3', tradeStatus: 'TRADE_SUCCESS', totalAmount: '5.00', appId: '2021000000000001' },
      dev.alipay.privateKey,
    );
    expect(providers.mock!.verify(toRequest(alipay), new Date())).toMatchObject({ ok: false, reason: 'missing_signature' });
  });
});

describe('generateDevKeys', () => {
  it('makes an APIv3 key of 32 characters, a hex serial and RSA-2048 SPKI/PKCS#8 PEM pairs', () => {
    expect(dev.wechatpay.apiV3Key).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(dev.wechatpay.serial).toMatch(/^[0-9A-F]{40}$/);
    for (const [privatePem, publicPem] of [
      [dev.wechatpay.platformPrivateKey, dev.wechatpay.platformPublicKey],
      [dev.alipay.privateKey, dev.alipay.publicKey],
    ] as const) {
      expect(privatePem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      expect(publicPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
      const key = createPrivateKey(privatePem);
      expect(key.asymmetricKeyType).toBe('rsa');
      expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
      expect(createPublicKey(privatePem).export({ type: 'spki', format: 'pem' })).toBe(publicPem);
    }
  });

  it('makes different keys each time', () => {
    const again = generateDevKeys();
    expect(again.wechatpay.apiV3Key).not.toBe(dev.wechatpay.apiV3Key);
    expect(again.alipay.publicKey).not.toBe(dev.alipay.publicKey);
  });
});

describe('shared limits', () => {
  it('keeps the documented limits and provider names', () => {
    expect(MAX_CALLBACK_BYTES).toBe(65536);
    expect(TIMESTAMP_TOLERANCE_SECONDS).toBe(300);
    const names: ProviderName[] = ['mock', 'wechatpay', 'alipay'];
    expect([...providerName.options].sort()).toEqual([...names].sort());
  });
});
