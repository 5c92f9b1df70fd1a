import type { NormalizedNotification } from '@pay/providers';
import type { KnownPayment } from './known-payments';

/**
 * Every provider adapter reports amounts in CNY fen (WeChat Pay refuses any other currency, Alipay's
 * `total_amount` and the mock's `amount` are yuan), so only a CNY payment can match a notification.
 */
export const NOTIFICATION_CURRENCY = 'CNY';

export type PaymentMatch =
  | { kind: 'matches'; payment: KnownPayment }
  /** Not in our view (yet): its payment.created may still be on its way, so the provider must retry. */
  | { kind: 'unknown_payment' }
  /** A verified notification that contradicts our payment: refused, never handed on. */
  | { kind: 'amount_mismatch'; detail: string };

/** Does a verified notification describe the payment we know? Amounts are compared exactly. */
export function matchPayment(notification: Pick<NormalizedNotification, 'amountMinor'>, payment: KnownPayment | null): PaymentMatch {
  if (!payment) return { kind: 'unknown_payment' };
  if (payment.currency !== NOTIFICATION_CURRENCY) {
    return { kind: 'amount_mismatch', detail: `payment is in ${payment.currency}, the notification in ${NOTIFICATION_CURRENCY}` };
  }
  if (notification.amountMinor !== payment.amountMinor) {
    return { kind: 'amount_mismatch', detail: `provider reported ${notification.amountMinor}, payment is ${payment.amountMinor} (minor units)` };
  }
  return { kind: 'matches', payment };
}
