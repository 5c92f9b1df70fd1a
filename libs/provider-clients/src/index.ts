import { providerForMethod } from '@pay/contracts';
import { type AlipayClientConfig, createAlipayClient } from './alipay';
import { type MockClientConfig, createMockClient } from './mock';
import type { PayChannel, ProviderClient, ProviderName } from './types';
import { type WechatpayClientConfig, createWechatpayClient, wechatpayPaySign } from './wechatpay';

export * from './types';
export { type AlipayClientConfig, createAlipayClient, type MockClientConfig, createMockClient, type WechatpayClientConfig, createWechatpayClient, wechatpayPaySign };
export { classifyAlipayError, classifyMockError, classifyWechatpayError } from './errors';
// The one method → provider table lives in the contracts (the callback gateway uses it too).
export { providerForMethod };

export interface ProviderClientsConfig {
  wechatpay?: WechatpayClientConfig;
  alipay?: AlipayClientConfig;
  mock?: MockClientConfig;
}

/** One client per configured provider; an unconfigured provider is simply absent. */
export function createProviderClients(config: ProviderClientsConfig): Partial<Record<ProviderName, ProviderClient>> {
  const clients: Partial<Record<ProviderName, ProviderClient>> = {};
  if (config.wechatpay) clients.wechatpay = createWechatpayClient(config.wechatpay);
  if (config.alipay) clients.alipay = createAlipayClient(config.alipay);
  if (config.mock) clients.mock = createMockClient(config.mock);
  return clients;
}

const DEFAULT_CHANNELS: Record<ProviderName, PayChannel> = { wechatpay: 'native', alipay: 'precreate', mock: 'mock' };

/** The channel used when the payer names none (the design: native for wechat, precreate for alipay). */
export function defaultChannel(provider: ProviderName): PayChannel {
  return DEFAULT_CHANNELS[provider];
}
