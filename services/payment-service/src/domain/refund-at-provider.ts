import { providerForMethod, type EventOrigin, type Identity } from '@pay/contracts';
import { Conflict, NotFound } from '@pay/errors';
import type { ProviderClient, RefundStatus as ProviderRefundStatus } from '@pay/provider-clients';
import { changePayment, isVisibleTo, visiblePayment } from './change-payment';
import { nextQueryDelaySeconds, type ProviderCalls } from './pay-at-provider';
import type { Payment, PaymentAggregate, RefundWord } from './payment';
import { clientFor, isProviderError } from './providers';
import { paymentIdOfRefund, type Refund } from './refund';

/**
 * Refunds at the provider. The refund is recorded first (pending, its amount checked against what is
 * left in the same atomic write, `refund.requested`), then sent; our refund id is the provider's
 * out_refund_no / out_request_no and is the same on every send, so a retried refund never pays out
 * twice. What the provider says (its answer, a WeChat REFUND.* notification, or a query) settles it
 * through `PaymentAggregate.settleRefund`. A refund the provider has not settled is asked about on a
 * back-off until it is (a lost notification never leaves it pending for ever).
 */

const PRODUCER = 'payment-service';

export interface RefundCalls extends ProviderCalls {
  /** First query of a refund the provider has not settled, this long after it was asked (REFUND_QUERY_AFTER_S). */
  refundQueryAfterSeconds: number;
}

export interface RefundAsk {
  /** null: the rest. */
  amountMinor: number | null;
  reason: string;
  idempotencyKey: string | null;
  requestFingerprint: string | null;
}

export interface RefundResult {
  payment: Payment;
  refund: Refund;
  replayed: boolean;
}

/** POST /payments/:id/refunds: record (checked), send, settle with the provider's answer. */
export async function refundAtProvider(calls: RefundCalls, paymentId: string, ask: RefundAsk, actor: string, origin: EventOrigin): Promise<RefundResult> {
  const current = await visiblePayment(calls.store, paymentId);
  const client = clientFor(calls.providers, current.method);
  const firstQueryAt = new Date(Date.now() + calls.refundQueryAfterSeconds * 1000);
  const recorded = await changePayment(calls.store, paymentId, (payment) =>
    payment.requestRefund({ ...ask, actor, origin, firstQueryAt }),
  );
  const { refund, replayed } = recorded.outcome;
  if (replayed) {
    // The first request's refund as it is now (it may have settled since).
    return { payment: recorded.payment, refund: refundIn(recorded.payment, refund.id), replayed };
  }
  calls.logger.info('refund requested', { payment_id: paymentId, refund_id: refund.id, amount_minor: refund.amountMinor, actor });
  const settled = await sendRefund(calls, client, recorded.payment, refund);
  return { payment: settled, refund: refundIn(settled, refund.id), replayed: false };
}

function refundIn(payment: Payment, refundId: string): Refund {
  return payment.refunds.find((refund) => refund.id === refundId)!;
}

/**
 * Sends the refund (again: the same id), then applies the answer. A provider that did not answer
 * usefully leaves it pending for the refund job; a business refusal fails it (its amount is free again).
 */
async function sendRefund(calls: RefundCalls, client: ProviderClient, payment: Payment, refund: Refund): Promise<Payment> {
  let answer: ProviderRefundStatus;
  try {
    answer = await client.refund({ paymentId: payment.id, refundId: refund.id, amountMinor: refund.amountMinor, totalMinor: payment.amountMinor, reason: refund.reason });
  } catch (error) {
    if (!isProviderError(error)) throw error;
    const fields = { payment_id: payment.id, refund_id: refund.id, kind: error.kind, provider_code: error.code, error: error.message };
    if (error.kind !== 'rejected') {
      if (error.kind === 'misconfigured') calls.logger.error('payment provider refused our configuration; refund left pending', fields);
      else calls.logger.warn('refund not answered usefully; it stays pending and is asked about later', fields);
      return payment;
    }
    calls.logger.warn('provider refused the refund', fields);
    return settleOrLeavePending(calls, payment, refund, { status: 'failed', providerRefundId: null, detail: `${error.code}: ${error.message}` }, client);
  }
  return settleOrLeavePending(calls, payment, refund, refundWordOf(answer), client);
}

/**
 * The refund is recorded and sent: its request has succeeded whatever happens next. If the provider's
 * answer cannot be stored now (the payment keeps changing under a burst of writers), the refund stays
 * pending and the refund job settles it from a query: the caller must not see an error for a refund
 * that exists (a retry without an Idempotency-Key would ask for a second one).
 */
async function settleOrLeavePending(calls: RefundCalls, payment: Payment, refund: Refund, word: RefundWord, client: ProviderClient): Promise<Payment> {
  try {
    return await applyRefundWord(calls, payment.id, refund.id, word, `provider:${client.provider}`);
  } catch (error) {
    if (!(error instanceof Conflict)) throw error;
    calls.logger.warn("refund sent; its answer is left for the refund query (the payment kept changing)", { payment_id: payment.id, refund_id: refund.id, status: word.status });
    return (await calls.store.get(payment.id)) ?? payment;
  }
}

/** The provider's refund status as a word about our refund (not_found is the caller's business). */
export function refundWordOf(answer: ProviderRefundStatus): RefundWord {
  const status = answer.state === 'succeeded' || answer.state === 'failed' || answer.state === 'needs_attention' ? answer.state : 'pending';
  return { status, providerRefundId: answer.providerRefundId, detail: `provider says ${answer.providerState}` };
}

export async function applyRefundWord(calls: Pick<RefundCalls, 'store' | 'logger'>, paymentId: string, refundId: string, word: RefundWord, actor: string): Promise<Payment> {
  const origin = { producer: PRODUCER };
  const { payment, outcome } = await changePayment(calls.store, paymentId, (aggregate: PaymentAggregate) => aggregate.settleRefund(refundId, word, actor, origin));
  const fields = { payment_id: paymentId, refund_id: refundId, status: word.status, detail: word.detail };
  if (outcome && word.status === 'needs_attention') calls.logger.error('refund needs attention at the provider', fields);
  else if (outcome) calls.logger.info('refund settled', fields);
  return payment;
}

/**
 * The refund job: every refund not settled whose query is due is asked about at its provider (the turn
 * is a versioned write, so one replica asks); a refund the provider does not know was never received
 * and is sent again with the same id.
 */
export async function queryDueRefunds(calls: RefundCalls, now = new Date(), limit = 20): Promise<number> {
  let asked = 0;
  for (const due of await calls.store.refundsDue(now, limit)) {
    const client = calls.providers[providerForMethod(due.method)];
    if (!client) continue;
    for (const waiting of due.refunds.filter((refund) => isDue(refund, now))) {
      const turn = await changePayment(calls.store, due.id, (payment) => {
        const refund = payment.refund(waiting.id);
        if (!isDue(refund, now)) return null;
        payment.takeRefundQueryTurn(refund.id, new Date(now.getTime() + nextQueryDelaySeconds(calls.refundQueryAfterSeconds, refund.queryAttempts + 1) * 1000));
        return refund;
      });
      if (!turn.outcome) continue;
      asked++;
      try {
        const answer = await client.queryRefund(due.id, waiting.id);
        if (answer.state === 'not_found') await sendRefund(calls, client, turn.payment, turn.outcome);
        else await applyRefundWord(calls, due.id, waiting.id, refundWordOf(answer), 'system:refund-query');
      } catch (error) {
        if (!isProviderError(error)) throw error;
        calls.logger.warn('refund query failed; asking again later', { payment_id: due.id, refund_id: waiting.id, kind: error.kind, provider_code: error.code });
      }
    }
  }
  return asked;
}

function isDue(refund: Refund, now: Date): boolean {
  return (refund.status === 'pending' || refund.status === 'needs_attention') && refund.nextQueryAt !== null && refund.nextQueryAt.getTime() <= now.getTime();
}


/** GET /refunds/:id: the refund id names its payment. Customers see only their own. */
export async function findRefund(calls: Pick<RefundCalls, 'store'>, refundId: string, viewer?: Identity): Promise<RefundResult> {
  const paymentId = paymentIdOfRefund(refundId);
  const payment = paymentId ? await calls.store.get(paymentId) : null;
  const refund = payment?.refunds.find((candidate) => candidate.id === refundId);
  if (!payment || !refund || !isVisibleTo(payment, viewer)) throw new NotFound(`refund ${refundId} not found`);
  return { payment, refund, replayed: false };
}
