import { z } from 'zod';
import { commonEnv, metricsPort, optionalVariable, pemKey, port, requireWholeGroups, secret } from '@pay/config';

/**
 * The variables that enable each provider, all of a group or none. None at all is allowed (compose and
 * the k8s manifests configure no provider unless WeChat Pay or Alipay variables are given): the gateway
 * then answers every callback 404 and says so at start.
 */
export const PROVIDER_VARIABLES = {
  mock: ['MOCK_PROVIDER_SECRET'],
  wechatpay: ['WECHATPAY_MCHID', 'WECHATPAY_APPID', 'WECHATPAY_APIV3_KEY', 'WECHATPAY_PLATFORM_SERIAL', 'WECHATPAY_PLATFORM_PUBLIC_KEY'],
  alipay: ['ALIPAY_APP_ID', 'ALIPAY_PUBLIC_KEY'],
} as const;

export const callbackConfigSchema = z
  .object({
    ...commonEnv,
    CALLBACK_PORT: port(8081),
    METRICS_PORT: metricsPort(9081),
    /**
     * How long a notification waits for a payment.created not yet received before the provider is asked
     * to retry (503). Kept well under the providers' answer timeout (WeChat Pay: 5 s).
     */
    PAYMENT_WAIT_MS: z.coerce.number().int().min(0).max(4000).default(2000),
    /** Refused callbacks (bad signature, stale, malformed…) allowed per client address per minute. */
    CALLBACK_REFUSALS_PER_IP: z.coerce.number().int().min(1).max(100_000).default(120),
    /** Number of proxies in front of the gateway whose X-Forwarded-For is trusted (0: none). */
    TRUST_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
    /**
     * HMAC key of the `mock` provider: development and tests only (compose and the k8s manifests leave it
     * unset). `/callbacks/mock` exists only when it is set.
     */
    MOCK_PROVIDER_SECRET: optionalVariable(secret(16)),
    WECHATPAY_MCHID: optionalVariable(z.string().min(1).max(32)),
    WECHATPAY_APPID: optionalVariable(z.string().min(1).max(32)),
    WECHATPAY_APIV3_KEY: optionalVariable(z.string().length(32, 'must be exactly 32 characters (WeChat Pay APIv3 key)')),
    WECHATPAY_PLATFORM_SERIAL: optionalVariable(z.string().min(1).max(64)),
    WECHATPAY_PLATFORM_PUBLIC_KEY: optionalVariable(pemKey('public')),
    ALIPAY_APP_ID: optionalVariable(z.string().min(1).max(32)),
    ALIPAY_PUBLIC_KEY: optionalVariable(pemKey('public')),
  })
  // A provider is either fully configured or not at all: half a configuration is a mistake.
  .superRefine((config, ctx) => requireWholeGroups(config, ctx, PROVIDER_VARIABLES));
export type CallbackConfig = z.infer<typeof callbackConfigSchema>;

/** The provider adapters this configuration enables; `mock` only when MOCK_PROVIDER_SECRET is set. */
export function providerSettings(config: CallbackConfig) {
  return {
    mock: config.MOCK_PROVIDER_SECRET ? { secret: config.MOCK_PROVIDER_SECRET } : undefined,
    wechatpay:
      config.WECHATPAY_MCHID && config.WECHATPAY_APPID && config.WECHATPAY_APIV3_KEY && config.WECHATPAY_PLATFORM_SERIAL && config.WECHATPAY_PLATFORM_PUBLIC_KEY
        ? {
            mchid: config.WECHATPAY_MCHID,
            appid: config.WECHATPAY_APPID,
            apiV3Key: config.WECHATPAY_APIV3_KEY,
            platformPublicKeys: { [config.WECHATPAY_PLATFORM_SERIAL]: config.WECHATPAY_PLATFORM_PUBLIC_KEY },
          }
        : undefined,
    alipay: config.ALIPAY_APP_ID && config.ALIPAY_PUBLIC_KEY ? { appId: config.ALIPAY_APP_ID, alipayPublicKey: config.ALIPAY_PUBLIC_KEY } : undefined,
  };
}
