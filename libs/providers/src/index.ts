import { type AlipayProviderConfig, createAlipayProvider, generateAlipayDevKeys, type AlipayDevKeys } from './alipay';
import { type MockProviderConfig, createMockProvider } from './mock';
import type { ProviderAdapter, ProviderName } from './types';
import { type WechatpayDevKeys, type WechatpayProviderConfig, createWechatpayProvider, generateWechatpayDevKeys } from './wechatpay';

export * from './mock';
export * from './wechatpay';
export * from './alipay';
export {
  type ProviderName,
  type NormalizedNotification,
  type NotifiedRefund,
  type CallbackRequest,
  type RejectReason,
  type VerifyResult,
  type ProviderAnswer,
  type ProviderAdapter,
  MAX_CALLBACK_BYTES,
  TIMESTAMP_TOLERANCE_SECONDS,
} from './types';

export interface ProvidersConfig {
  mock?: MockProviderConfig;
  wechatpay?: WechatpayProviderConfig;
  alipay?: AlipayProviderConfig;
}

/** One adapter per configured provider; an unconfigured provider is simply absent. */
export function createProviders(config: ProvidersConfig): Partial<Record<ProviderName, ProviderAdapter>> {
  const providers: Partial<Record<ProviderName, ProviderAdapter>> = {};
  if (config.mock) providers.mock = createMockProvider(config.mock);
  if (config.wechatpay) providers.wechatpay = createWechatpayProvider(config.wechatpay);
  if (config.alipay) providers.alipay = createAlipayProvider(config.alipay);
  return providers;
}

export interface DevKeys {
  wechatpay: WechatpayDevKeys;
  alipay: AlipayDevKeys;
}

/** Fresh keys for local runs and tests (RSA-2048, SPKI/PKCS#8 PEM); never commit their output. */
export function generateDevKeys(): DevKeys {
  return { wechatpay: generateWechatpayDevKeys(), alipay: generateAlipayDevKeys() };
}
export * from './provider-text';
