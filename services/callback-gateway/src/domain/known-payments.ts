import { waitForRecord } from '@pay/arrivals';
import type { PaymentMethod } from '@pay/contracts';

/**
 * The callback gateway's own view of payments, built from `payment.created` (the services share no
 * database and coordinate only through events). A payment's amount, currency and method never change
 * after creation, so the view is insert-only: one document per payment, the first insert wins.
 */
export interface KnownPayment {
  id: string;
  amountMinor: number;
  currency: string;
  /**
   * Decides which provider may notify about the payment (see match-payment.ts). Absent only on payments
   * recorded by a gateway older than this field: `payment.created` always carried the method, but this
   * insert-only view cannot be backfilled from here (the event is consumed once), so such a payment's
   * notifications are accepted without the provider check (with a warning) rather than refused.
   */
  method?: PaymentMethod;
}

export interface KnownPayments {
  get(paymentId: string): Promise<KnownPayment | null>;
  /** payment.created: insert; a redelivered or duplicate event is a no-op. */
  recordCreated(payment: KnownPayment): Promise<void>;
  /** Resolves when this process records the payment (or after maxMs); absent: re-read on a timer. */
  nextRecorded?(paymentId: string, maxMs: number, signal: AbortSignal): Promise<void>;
}

/**
 * A provider may notify before our `payment.created` reached this service (both travel separately):
 * wait a little for it rather than send the provider into its retry schedule at once.
 */
export function waitForPayment(payments: KnownPayments, paymentId: string, waitMs: number, recheckMs = 1000): Promise<KnownPayment | null> {
  const nextRecorded = payments.nextRecorded?.bind(payments);
  return waitForRecord(() => payments.get(paymentId), nextRecorded && ((maxMs, signal) => nextRecorded(paymentId, maxMs, signal)), waitMs, recheckMs);
}
