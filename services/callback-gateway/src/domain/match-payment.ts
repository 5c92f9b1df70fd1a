import { providerForMethod } from '@pay/contracts';
import type { NormalizedNotification } from '@pay/providers';
import type { KnownPayment } from './known-payments';

/**
 * Every provider adapter reports amounts in CNY fen (WeChat Pay refuses any other currency, Alipay's
 * `total_amount` and the mock's `amount` are yuan), so only a CNY payment can match a notification.
 */
export const NOTIFICATION_CURRENCY = 'CNY';

export type PaymentMatch =
  /**
   * providerChecked: false when the payment was recorded without its method (by an older gateway, see
   * KnownPayment.method), so any configured provider was accepted for it.
   */
  | { kind: 'matches'; payment: KnownPayment; providerChecked: boolean }
  /** Not in our view (yet): its payment.created may still be on its way, so the provider must retry. */
  | { kind: 'unknown_payment' }
  /** A verified notification from another provider than the one the payment's method is paid at: refused. */
  | { kind: 'provider_mismatch'; detail: string }
  /** A verified notification that contradicts our payment: refused, never handed on. */
  | { kind: 'amount_mismatch'; detail: string };

/**
 * Does a verified notification describe the payment we know? Its provider must be the payment's
 * (`providerForMethod`: wechat → wechatpay, alipay → alipay, bank_card → mock); a notification from
 * another one is refused before its amount means anything. Amounts are compared exactly.
 */
export function matchPayment(notification: Pick<NormalizedNotification, 'provider' | 'amountMinor'>, payment: KnownPayment | null): PaymentMatch {
  if (!payment) return { kind: 'unknown_payment' };
  if (payment.method !== undefined && providerForMethod(payment.method) !== notification.provider) {
    return {
      kind: 'provider_mismatch',
      detail: `${notification.provider} notified about a ${payment.method} payment, which is paid at ${providerForMethod(payment.method)}`,
    };
  }
  if (payment.currency !== NOTIFICATION_CURRENCY) {
    return { kind: 'amount_mismatch', detail: `payment is in ${payment.currency}, the notification in ${NOTIFICATION_CURRENCY}` };
  }
  if (notification.amountMinor !== payment.amountMinor) {
    return { kind: 'amount_mismatch', detail: `provider reported ${notification.amountMinor}, payment is ${payment.amountMinor} (minor units)` };
  }
  return { kind: 'matches', payment, providerChecked: payment.method !== undefined };
}
