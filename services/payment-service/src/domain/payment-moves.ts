import type { EventOrigin, Identity } from '@pay/contracts';
import { changePayment } from './change-payment';
import type { FailureOutcome, ProviderName } from './payment';
import type { PaymentStore } from './payment-store';

/** The payment moves a person or a job asks for; each is one guarded change of the aggregate. */

export function startPayment(store: PaymentStore, paymentId: string, actor: string, origin: EventOrigin, viewer?: Identity) {
  return changePayment(store, paymentId, (payment) => payment.start(actor, origin), viewer);
}

export function failPayment(
  store: PaymentStore,
  paymentId: string,
  reason: string,
  actor: string,
  provider: ProviderName | null,
  origin: EventOrigin,
  viewer?: Identity,
) {
  return changePayment<FailureOutcome>(store, paymentId, (payment) => payment.fail(reason, actor, provider, origin), viewer);
}

export function cancelPayment(store: PaymentStore, paymentId: string, reason: string, actor: string, origin: EventOrigin, viewer?: Identity) {
  return changePayment(store, paymentId, (payment) => payment.cancel(reason, actor, origin), viewer);
}

export function expirePayment(store: PaymentStore, paymentId: string, actor: string, origin: EventOrigin, viewer?: Identity) {
  return changePayment(store, paymentId, (payment) => payment.expire(actor, origin), viewer);
}
