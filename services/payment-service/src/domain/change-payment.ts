import { changeAggregate } from '@pay/aggregate';
import type { Identity } from '@pay/contracts';
import { Conflict, NotFound } from '@pay/errors';
import type { Payment, PaymentAggregate } from './payment';
import type { PaymentStore } from './payment-store';

export interface PaymentChanged<R> {
  payment: Payment;
  outcome: R;
}

/**
 * Every change of a payment: load it, make the aggregate's moves, save guarded by the version it was
 * loaded at; a lost race (another request, consumer, sweeper or replica wrote first) is decided again
 * on the new state. With `viewer`, a customer who does not own the payment gets "not found" (checked
 * on the same read the decision is made on).
 */
export async function changePayment<R>(store: PaymentStore, id: string, act: (payment: PaymentAggregate) => R, viewer?: Identity): Promise<PaymentChanged<R>> {
  const notFound = () => new NotFound(`payment ${id} not found`);
  const { aggregate, result } = await changeAggregate(
    store,
    id,
    (payment) => {
      if (!isVisibleTo(payment.state, viewer)) throw notFound();
      return act(payment);
    },
    { notFound, contended: () => new Conflict(`payment ${id} is changing concurrently; retry`, undefined, 'concurrent_change') },
  );
  return { payment: aggregate.state, outcome: result };
}

/** Customers see only their own payments; someone else's is "not found", never "forbidden". */
export function isVisibleTo(payment: Pick<Payment, 'userId'>, viewer?: Identity): boolean {
  return !viewer || viewer.role !== 'customer' || payment.userId === viewer.sub;
}

/** The payment as stored, if `viewer` (when given) may see it; otherwise NotFound. */
export async function visiblePayment(store: PaymentStore, id: string, viewer?: Identity): Promise<Payment> {
  const payment = await store.get(id);
  if (!payment || !isVisibleTo(payment, viewer)) throw new NotFound(`payment ${id} not found`);
  return payment;
}
