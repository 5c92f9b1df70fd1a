import { z } from 'zod';
import { booleanFlag, commonEnv, metricsPort, optionalVariable, pemKey, port, requireWholeGroups, secret, url } from '@pay/config';

export const paymentConfigSchema = z
  .object({
    ...commonEnv,
    PAYMENT_PORT: port(8083),
    METRICS_PORT: metricsPort(9083),
    /** Default payment lifetime (the original's 30 minutes). */
    PAYMENT_TTL_MINUTES: z.coerce.number().int().min(1).max(1440).default(30),
    /** Lets a customer drive succeed/fail without a provider (demos, sandbox); admin can always. */
    PAYMENT_SANDBOX: booleanFlag(false),
    EXPIRY_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
    /** How long create waits for an order.created not yet received. */
    ORDER_WAIT_MS: z.coerce.number().int().min(0).max(30_000).default(3000),
    /**
     * Deliveries of its queue the service holds at once (unacknowledged, per replica). Each handler is a
     * few database round trips that mostly wait in the connection pool's queue, shared with the HTTP
     * requests; with the broker's default of 10 a burst of order.created piled up in the queue behind the
     * very creates waiting for it. 100 takes a burst in at once (its events queue for the pool alongside
     * the requests); the view's lag check counts them as in hand (entry-points/messaging/in-hand-deliveries.ts).
     */
    /** A processing payment with no notification is asked at its provider this long after start, then on a back-off. */
    PAYMENT_QUERY_AFTER_S: z.coerce.number().int().min(1).max(86_400).default(120),
    /** A refund the provider has not settled is asked about this long after it was sent, then on a back-off. */
    REFUND_QUERY_AFTER_S: z.coerce.number().int().min(1).max(86_400).default(60),
    /** How often the provider query job looks for due payments. */
    PROVIDER_QUERY_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
    CONSUMER_PREFETCH: z.coerce.number().int().min(1).max(500).default(100),
    /** How long one provider call may take before its answer counts as unknown (then it is queried). */
    PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
    // WeChat Pay API v3 (method wechat): the merchant's own key signs requests; the platform key verifies answers.
    WECHATPAY_MCHID: optionalVariable(z.string().min(1).max(32)),
    WECHATPAY_APPID: optionalVariable(z.string().min(1).max(32)),
    WECHATPAY_MERCHANT_SERIAL: optionalVariable(z.string().min(1).max(64)),
    WECHATPAY_MERCHANT_PRIVATE_KEY: optionalVariable(pemKey('private')),
    WECHATPAY_PLATFORM_SERIAL: optionalVariable(z.string().min(1).max(64)),
    WECHATPAY_PLATFORM_PUBLIC_KEY: optionalVariable(pemKey('public')),
    WECHATPAY_API_BASE_URL: z.preprocess((value) => (value === '' ? undefined : value), url(['https', 'http']).default('https://api.mch.weixin.qq.com')),
    WECHATPAY_NOTIFY_URL: optionalVariable(url(['https', 'http'])),
    // Alipay open API (method alipay).
    ALIPAY_APP_ID: optionalVariable(z.string().min(1).max(32)),
    ALIPAY_APP_PRIVATE_KEY: optionalVariable(pemKey('private')),
    ALIPAY_PUBLIC_KEY: optionalVariable(pemKey('public')),
    ALIPAY_GATEWAY_URL: z.preprocess((value) => (value === '' ? undefined : value), url(['https', 'http']).default('https://openapi.alipay.com/gateway.do')),
    ALIPAY_NOTIFY_URL: optionalVariable(url(['https', 'http'])),
    // The mock provider (method bank_card; development and tests only): the provider simulator's URL and HMAC key.
    MOCK_PROVIDER_SECRET: optionalVariable(secret(16)),
    MOCK_PROVIDER_URL: optionalVariable(url(['http', 'https'])),
  })
  .superRefine((config, ctx) =>
    requireWholeGroups(config, ctx, {
      'WeChat Pay': ['WECHATPAY_MCHID', 'WECHATPAY_APPID', 'WECHATPAY_MERCHANT_SERIAL', 'WECHATPAY_MERCHANT_PRIVATE_KEY', 'WECHATPAY_PLATFORM_SERIAL', 'WECHATPAY_PLATFORM_PUBLIC_KEY', 'WECHATPAY_NOTIFY_URL'],
      Alipay: ['ALIPAY_APP_ID', 'ALIPAY_APP_PRIVATE_KEY', 'ALIPAY_PUBLIC_KEY', 'ALIPAY_NOTIFY_URL'],
      'the mock provider': ['MOCK_PROVIDER_SECRET', 'MOCK_PROVIDER_URL'],
    }),
  );
export type PaymentConfig = z.infer<typeof paymentConfigSchema>;
