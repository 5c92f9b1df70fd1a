import type { z } from 'zod';
import type { paymentMethod, providerName } from './events';

export type PaymentMethod = z.infer<typeof paymentMethod>;
export type ProviderName = z.infer<typeof providerName>;

/**
 * The provider a payment is paid at follows its method (the design, "Paying at the provider"): WeChat →
 * WeChat Pay API v3, Alipay → the Alipay open API, a bank card → the `mock` provider until a card acquirer
 * is added. The one table of it: the payment-service opens payments at this provider and the callback
 * gateway accepts notifications about a payment only from it.
 */
export const PROVIDER_FOR_METHOD = {
  wechat: 'wechatpay',
  alipay: 'alipay',
  bank_card: 'mock',
} as const satisfies Record<PaymentMethod, ProviderName>;

export function providerForMethod(method: PaymentMethod): ProviderName {
  return PROVIDER_FOR_METHOD[method];
}
