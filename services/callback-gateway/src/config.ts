import { z } from 'zod';
import { commonEnv, port, secret } from '@pay/config';

/** PEM keys may come with literal "\n" (one-line env files); normalise them. */
const pem = z
  .string()
  .transform((value) => value.replace(/\\n/g, '\n'))
  .refine((value) => /-----BEGIN [A-Z ]*KEY-----/.test(value), 'must be a PEM public key');

export const callbackConfigSchema = z
  .object({
    ...commonEnv,
    CALLBACK_PORT: port(8081),
    /**
     * How long a notification waits for a payment.created not yet received before the provider is asked
     * to retry (503). Kept well under the providers' answer timeout (WeChat Pay: 5 s).
     */
    PAYMENT_WAIT_MS: z.coerce.number().int().min(0).max(4000).default(2000),
    /** Refused callbacks (bad signature, stale, malformed…) allowed per client address per minute. */
    CALLBACK_REFUSALS_PER_IP: z.coerce.number().int().min(1).max(100_000).default(120),
    /** Number of proxies in front of the gateway whose X-Forwarded-For is trusted (0: none). */
    TRUST_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
    MOCK_PROVIDER_SECRET: secret(16),
    WECHATPAY_MCHID: z.string().min(1).max(32).optional(),
    WECHATPAY_APPID: z.string().min(1).max(32).optional(),
    WECHATPAY_APIV3_KEY: z.string().length(32, 'must be exactly 32 characters (WeChat Pay APIv3 key)').optional(),
    WECHATPAY_PLATFORM_SERIAL: z.string().min(1).max(64).optional(),
    WECHATPAY_PLATFORM_PUBLIC_KEY: pem.optional(),
    ALIPAY_APP_ID: z.string().min(1).max(32).optional(),
    ALIPAY_PUBLIC_KEY: pem.optional(),
  })
  .superRefine((config, ctx) => {
    // A provider is either fully configured or not at all: half a configuration is a mistake.
    const groups = {
      wechatpay: ['WECHATPAY_MCHID', 'WECHATPAY_APPID', 'WECHATPAY_APIV3_KEY', 'WECHATPAY_PLATFORM_SERIAL', 'WECHATPAY_PLATFORM_PUBLIC_KEY'],
      alipay: ['ALIPAY_APP_ID', 'ALIPAY_PUBLIC_KEY'],
    } as const;
    for (const names of Object.values(groups)) {
      const present = names.filter((name) => config[name] !== undefined);
      if (present.length > 0 && present.length < names.length) {
        for (const name of names.filter((n) => config[n] === undefined)) {
          ctx.addIssue({ code: 'custom', path: [name], message: `required when ${present.join(', ')} is set` });
        }
      }
    }
  });
export type CallbackConfig = z.infer<typeof callbackConfigSchema>;

/** The provider adapters this configuration enables. */
export function providerSettings(config: CallbackConfig) {
  return {
    mock: { secret: config.MOCK_PROVIDER_SECRET },
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
