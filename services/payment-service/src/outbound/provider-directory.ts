import { createProviderClients } from '@pay/provider-clients';
import type { PaymentConfig } from '../config';
import type { ProviderDirectory } from '../domain/providers';

/** The provider clients this configuration enables (a provider whose group is unset is absent). */
export function providerDirectory(config: PaymentConfig): ProviderDirectory {
  const timeoutMs = config.PROVIDER_TIMEOUT_MS;
  return createProviderClients({
    wechatpay:
      config.WECHATPAY_MCHID && config.WECHATPAY_APPID && config.WECHATPAY_MERCHANT_SERIAL && config.WECHATPAY_MERCHANT_PRIVATE_KEY && config.WECHATPAY_PLATFORM_SERIAL && config.WECHATPAY_PLATFORM_PUBLIC_KEY && config.WECHATPAY_NOTIFY_URL
        ? {
            mchid: config.WECHATPAY_MCHID,
            appid: config.WECHATPAY_APPID,
            merchantSerial: config.WECHATPAY_MERCHANT_SERIAL,
            merchantPrivateKey: config.WECHATPAY_MERCHANT_PRIVATE_KEY,
            platformSerial: config.WECHATPAY_PLATFORM_SERIAL,
            platformPublicKey: config.WECHATPAY_PLATFORM_PUBLIC_KEY,
            baseUrl: config.WECHATPAY_API_BASE_URL,
            notifyUrl: config.WECHATPAY_NOTIFY_URL,
            timeoutMs,
          }
        : undefined,
    alipay:
      config.ALIPAY_APP_ID && config.ALIPAY_APP_PRIVATE_KEY && config.ALIPAY_PUBLIC_KEY && config.ALIPAY_NOTIFY_URL
        ? {
            appId: config.ALIPAY_APP_ID,
            appPrivateKey: config.ALIPAY_APP_PRIVATE_KEY,
            alipayPublicKey: config.ALIPAY_PUBLIC_KEY,
            gatewayUrl: config.ALIPAY_GATEWAY_URL,
            notifyUrl: config.ALIPAY_NOTIFY_URL,
            timeoutMs,
          }
        : undefined,
    mock: config.MOCK_PROVIDER_SECRET && config.MOCK_PROVIDER_URL ? { secret: config.MOCK_PROVIDER_SECRET, baseUrl: config.MOCK_PROVIDER_URL, timeoutMs } : undefined,
  });
}
