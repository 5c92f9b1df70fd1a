import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from '@pay/config';
import { createProviders, generateWechatpayDevKeys } from '@pay/providers';
import { callbackConfigSchema, providerSettings } from '../src/config';

/** Which providers an environment enables: the adapters main.ts builds from it. */
const base = { INTERNAL_TOKEN_SECRET: randomBytes(32).toString('hex') };
const keys = generateWechatpayDevKeys();
const wechatpay = {
  WECHATPAY_MCHID: '1900000109',
  WECHATPAY_APPID: 'wxdevappid0000001',
  WECHATPAY_APIV3_KEY: keys.apiV3Key,
  WECHATPAY_PLATFORM_SERIAL: keys.serial,
  WECHATPAY_PLATFORM_PUBLIC_KEY: keys.platformPublicKey,
};
const enabled = (env: NodeJS.ProcessEnv) => Object.keys(createProviders(providerSettings(loadConfig(callbackConfigSchema, env)))).sort();
const problems = (env: NodeJS.ProcessEnv) => {
  try {
    loadConfig(callbackConfigSchema, env);
    return [];
  } catch (error) {
    return (error as ConfigError).issues;
  }
};

describe('callback gateway configuration: which providers it enables', () => {
  it('enables mock only when MOCK_PROVIDER_SECRET is set', () => {
    expect(enabled({ ...base, ...wechatpay })).toEqual(['wechatpay']);
    expect(providerSettings(loadConfig(callbackConfigSchema, { ...base, ...wechatpay })).mock).toBeUndefined();
    const secret = randomBytes(16).toString('hex');
    expect(enabled({ ...base, ...wechatpay, MOCK_PROVIDER_SECRET: secret })).toEqual(['mock', 'wechatpay']);
    expect(providerSettings(loadConfig(callbackConfigSchema, { ...base, MOCK_PROVIDER_SECRET: secret })).mock).toEqual({ secret });
  });

  it('still refuses a MOCK_PROVIDER_SECRET shorter than 16 characters, naming it', () => {
    expect(problems({ ...base, MOCK_PROVIDER_SECRET: 'x'.repeat(15) })).toEqual([{ variable: 'MOCK_PROVIDER_SECRET', problem: 'must be at least 16 characters' }]);
    expect(problems({ ...base, MOCK_PROVIDER_SECRET: 'x'.repeat(16) })).toEqual([]);
  });

  it('starts with no provider configured at all (compose and k8s without provider variables)', () => {
    expect(problems(base)).toEqual([]);
    expect(enabled(base)).toEqual([]);
  });

  it('counts an empty provider variable as unset (compose passes a shell variable exported empty, k8s an empty Secret key)', () => {
    const empty = Object.fromEntries([...Object.keys(wechatpay), 'ALIPAY_APP_ID', 'ALIPAY_PUBLIC_KEY', 'MOCK_PROVIDER_SECRET'].map((name) => [name, '']));
    expect(problems({ ...base, ...empty })).toEqual([]);
    expect(enabled({ ...base, ...empty })).toEqual([]);
    expect(enabled({ ...base, ...empty, ...wechatpay })).toEqual(['wechatpay']);
    // Half a provider is still refused: an empty variable of a group counts as a missing one.
    expect(problems({ ...base, ...empty, WECHATPAY_MCHID: '1900000109' }).map((issue) => issue.variable).sort()).toEqual(
      ['WECHATPAY_APIV3_KEY', 'WECHATPAY_APPID', 'WECHATPAY_PLATFORM_PUBLIC_KEY', 'WECHATPAY_PLATFORM_SERIAL'],
    );
  });
});
