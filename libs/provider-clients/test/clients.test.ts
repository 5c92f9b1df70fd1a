import { createProviderClients, defaultChannel, providerForMethod } from '../src';
import { rsaPair } from './support/capture-server';

describe('provider clients', () => {
  it('creates a client for each configured provider only, each listing its default channel first', () => {
    const merchant = rsaPair();
    const platform = rsaPair();
    const clients = createProviderClients({
      wechatpay: {
        mchid: '1900000109',
        appid: 'wxd678efh567hg6787',
        merchantSerial: 'M1',
        merchantPrivateKey: merchant.privateKey,
        platformSerial: 'PUB_KEY_ID_1',
        platformPublicKey: platform.publicKey,
        notifyUrl: 'https://pay.example.com/callbacks/wechatpay',
      },
      mock: { secret: 's3cret', baseUrl: 'http://127.0.0.1:8090' },
    });
    expect(Object.keys(clients).sort()).toEqual(['mock', 'wechatpay']);
    expect(clients.wechatpay?.channels[0]).toBe(defaultChannel('wechatpay'));
    expect(clients.mock?.channels).toEqual(['mock']);
  });

  it('follows the payment method to its provider and default channel', () => {
    expect(providerForMethod('wechat')).toBe('wechatpay');
    expect(providerForMethod('alipay')).toBe('alipay');
    expect(providerForMethod('bank_card')).toBe('mock');
    expect(defaultChannel('wechatpay')).toBe('native');
    expect(defaultChannel('alipay')).toBe('precreate');
    expect(defaultChannel('mock')).toBe('mock');
  });
});
