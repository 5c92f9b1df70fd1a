import { ConfigError } from '@pay/config';
import { loadSimOptions } from '../src/main';
import { rsaPair } from './support';

const wechatKeys = { platform: rsaPair(), merchant: rsaPair() };
const alipayKeys = { alipay: rsaPair(), app: rsaPair() };

const oneLine = (pem: string) => pem.replace(/\n/g, '\\n');

const wechatpayEnv = {
  WECHATPAY_MCHID: '1900000109',
  WECHATPAY_APPID: 'wxd678efh567hg6787',
  WECHATPAY_APIV3_KEY: 'a'.repeat(32),
  WECHATPAY_PLATFORM_SERIAL: 'PUB_KEY_ID_0114232134912410000000000000000000',
  WECHATPAY_MERCHANT_SERIAL: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
  PROVIDER_SIM_WECHATPAY_PLATFORM_PRIVATE_KEY: oneLine(wechatKeys.platform.privateKey),
  PROVIDER_SIM_WECHATPAY_MERCHANT_PUBLIC_KEY: wechatKeys.merchant.publicKey,
};

const alipayEnv = {
  ALIPAY_APP_ID: '2021000000000001',
  PROVIDER_SIM_ALIPAY_PRIVATE_KEY: alipayKeys.alipay.privateKey,
  PROVIDER_SIM_ALIPAY_APP_PUBLIC_KEY: alipayKeys.app.publicKey,
};

function configIssues(env: NodeJS.ProcessEnv): { variable: string; problem: string }[] {
  try {
    loadSimOptions(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('provider-sim environment', () => {
  it('defaults to port 8090, time scale 1, no callback URL and no provider', () => {
    expect(loadSimOptions({})).toEqual({ port: 8090, timeScale: 1 });
  });

  it('enables each complete group, with one-line PEMs turned back into lines', () => {
    const options = loadSimOptions({
      ...wechatpayEnv,
      ...alipayEnv,
      MOCK_PROVIDER_SECRET: 'm'.repeat(32),
      PROVIDER_SIM_PORT: '0',
      PROVIDER_SIM_TIME_SCALE: '0.01',
      PROVIDER_SIM_CALLBACK_URL: 'http://127.0.0.1:8081',
    });
    expect(options).toEqual({
      port: 0,
      timeScale: 0.01,
      callbackUrl: 'http://127.0.0.1:8081',
      wechatpay: {
        mchid: '1900000109',
        appid: 'wxd678efh567hg6787',
        apiV3Key: 'a'.repeat(32),
        platformPrivateKey: wechatKeys.platform.privateKey,
        platformSerial: wechatpayEnv.WECHATPAY_PLATFORM_SERIAL,
        merchantPublicKey: wechatKeys.merchant.publicKey,
        merchantSerial: wechatpayEnv.WECHATPAY_MERCHANT_SERIAL,
      },
      alipay: { appId: '2021000000000001', privateKey: alipayKeys.alipay.privateKey, appPublicKey: alipayKeys.app.publicKey },
      mock: { secret: 'm'.repeat(32) },
    });
  });

  it('refuses half a group, naming each missing variable', () => {
    const { PROVIDER_SIM_WECHATPAY_MERCHANT_PUBLIC_KEY: _dropped, ...half } = wechatpayEnv;
    expect(configIssues(half)).toEqual([{ variable: 'PROVIDER_SIM_WECHATPAY_MERCHANT_PUBLIC_KEY', problem: expect.stringContaining('required when') }]);
    expect(configIssues({ ALIPAY_APP_ID: '2021000000000001' }).map((issue) => issue.variable).sort()).toEqual([
      'PROVIDER_SIM_ALIPAY_APP_PUBLIC_KEY',
      'PROVIDER_SIM_ALIPAY_PRIVATE_KEY',
    ]);
  });

  it('treats an empty variable as unset', () => {
    expect(loadSimOptions({ ALIPAY_APP_ID: '', MOCK_PROVIDER_SECRET: '' })).toEqual({ port: 8090, timeScale: 1 });
  });

  it('names a bad variable without echoing its value', () => {
    const secretish = 'not-a-key-but-secret-9f8e7d6c5b4a';
    const issues = configIssues({ ...alipayEnv, PROVIDER_SIM_ALIPAY_PRIVATE_KEY: secretish, PROVIDER_SIM_TIME_SCALE: '0' });
    expect(issues.map((issue) => issue.variable).sort()).toEqual(['PROVIDER_SIM_ALIPAY_PRIVATE_KEY', 'PROVIDER_SIM_TIME_SCALE']);
    expect(JSON.stringify(issues)).not.toContain(secretish);
  });
});
