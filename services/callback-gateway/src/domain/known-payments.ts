/**
 * The callback gateway's own view of payments, built from `payment.created` (the services share no
 * database and coordinate only through events). A payment's amount and currency never change after
 * creation, so the view is insert-only: one document per payment, the first insert wins.
 */
export interface KnownPayment {
  id: string;
  amountMinor: number;
  currency: string;
}

export interface KnownPayments {
  get(paymentId: string): Promise<KnownPayment | null>;
  /** payment.created: insert; a redelivered or duplicate event is a no-op. */
  recordCreated(payment: KnownPayment): Promise<void>;
}

/**
 * A provider may notify before our `payment.created` reached this service (both travel separately):
 * wait a little for it rather than send the provider into its retry schedule at once.
 */
export async function waitForPayment(payments: KnownPayments, paymentId: string, waitMs: number, pollMs = 100): Promise<KnownPayment | null> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const payment = await payments.get(paymentId);
    if (payment || Date.now() >= deadline) return payment;
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(1, deadline - Date.now()))));
  }
}
