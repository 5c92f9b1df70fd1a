import type { EventEnvelope } from '@pay/contracts';
import { Conflict, NotFound } from '@pay/errors';
import type { Payment, PaymentChange, PaymentLogEntry } from './payment';
import type { PaymentStore } from './payment-store';

/** What a use case decided for the payment as it found it. */
export type Decision<O extends string> =
  | { kind: 'change'; outcome: O; change: PaymentChange; events: (after: Payment) => EventEnvelope[] }
  | { kind: 'none'; outcome: O; note?: PaymentLogEntry };

export interface Updated<O extends string> {
  payment: Payment;
  outcome: O;
}

const MAX_ATTEMPTS = 5;

/**
 * Lock the payment → read → decide → conditional write (the "lock the payment" step of the original
 * flow). The in-process lock serialises this service's writers (FerretDB needs it, see DocumentLocks);
 * the write's filter on the state the decision was made from guards against other replicas on MongoDB,
 * and a lost race is simply decided again.
 */
export function updatePayment<O extends string>(store: PaymentStore, id: string, decide: (payment: Payment) => Decision<O>): Promise<Updated<O>> {
  return store.exclusive(id, () => decideAndWrite(store, id, decide));
}

async function decideAndWrite<O extends string>(store: PaymentStore, id: string, decide: (payment: Payment) => Decision<O>): Promise<Updated<O>> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const payment = await store.get(id);
    if (!payment) throw new NotFound(`payment ${id} not found`);
    const decision = decide(payment);
    if (decision.kind === 'none') {
      if (decision.note) await store.appendLog(id, decision.note);
      return { payment, outcome: decision.outcome };
    }
    const after = afterChange(payment, decision.change);
    const stored = await store.apply(payment, decision.change, decision.events(after));
    if (stored) return { payment: stored, outcome: decision.outcome };
  }
  throw new Conflict(`payment ${id} is changing concurrently; retry`);
}

export function afterChange(payment: Payment, change: PaymentChange): Payment {
  return { ...payment, ...change.set, status: change.to, updatedAt: new Date(), logs: [...payment.logs, ...change.logs] };
}
