import type { EventOrigin, Identity } from '@pay/contracts';
import { Conflict } from '@pay/errors';
import type { Logger } from '@pay/logger';
import type { PayChannel, ProviderClient, TradeStatus } from '@pay/provider-clients';
import { changePayment, visiblePayment, type PaymentChanged } from './change-payment';
import { OPEN_STATUSES, assertTransition, isExpiredAt, type Payment, type PaymentAggregate, type ProviderName, type StartOutcome } from './payment';
import type { PaymentStore } from './payment-store';
import { clientFor, isProviderError, providerFailure, type ProviderDirectory } from './providers';
import { logSuccessOutcome } from './process-success';

/**
 * Everything that asks a provider something: open the order when the customer starts paying, ask
 * about a payment whose notification is late, and close before expiring or cancelling. A provider call
 * is never inside a write: the call is made, then its answer is decided on the freshly read payment in
 * one guarded change (so a timeout changes nothing, and a lost race decides again on the new state).
 */

const PRODUCER = 'payment-service';

export interface ProviderCalls {
  store: PaymentStore;
  providers: ProviderDirectory;
  logger: Logger;
  /** First query of a processing payment this long after start (PAYMENT_QUERY_AFTER_S). */
  queryAfterSeconds: number;
}

export interface StartRequest {
  channel?: PayChannel;
  payer?: { openid?: string; buyer_open_id?: string };
}

/**
 * startPayment: opens the provider order (our payment id is its out_trade_no), then moves the payment
 * to processing with the pay_params the client needs. Starting again while processing answers the
 * provider order already opened (no second order).
 */
export async function startAtProvider(
  calls: ProviderCalls,
  paymentId: string,
  request: StartRequest,
  actor: string,
  origin: EventOrigin,
  viewer?: Identity,
): Promise<PaymentChanged<StartOutcome>> {
  const payment = await visiblePayment(calls.store, paymentId, viewer);
  if (payment.status === 'processing' && payment.providerOrder) return { payment, outcome: 'already_started' };
  if (payment.status !== 'processing') assertTransition(payment.status, 'processing');
  const now = new Date();
  if (isExpiredAt(payment, now)) throw new Conflict(`payment ${paymentId} has expired`, { expires_at: payment.expiresAt.toISOString() }, 'payment_expired');

  const client = clientFor(calls.providers, payment.method);
  const channel = request.channel ?? client.channels[0]!;
  if (!client.channels.includes(channel)) {
    throw new Conflict(`channel ${channel} is not offered for method ${payment.method} (offered: ${client.channels.join(', ')})`, { channel }, 'channel_not_supported');
  }
  const opened = await callProvider(calls.logger, payment, 'open', () =>
    client.open({
      paymentId,
      amountMinor: payment.amountMinor,
      currency: payment.currency,
      description: `Order ${payment.orderId}`,
      expiresAt: payment.expiresAt,
      channel,
      payer: request.payer,
    }),
  );
  const providerOrder = { provider: client.provider, channel, payParams: opened.payParams, providerOrderId: opened.providerOrderId, openedAt: now };
  try {
    return await changePayment(calls.store, paymentId, (aggregate) =>
      aggregate.start(actor, origin, providerOrder, new Date(now.getTime() + calls.queryAfterSeconds * 1000)),
    viewer);
  } catch (error) {
    // Closed only when the payment, read again, has moved on (cancelled, expired while the order was being
    // opened): then the order must not stay payable. A start whose write failed otherwise (the database
    // restarting, or the answer lost after it was stored) leaves the payment init or started, and the
    // retry, or the payer, must find the order open; unreadable, it stays open too (expiry closes it).
    const current = await calls.store.get(paymentId).catch(() => null);
    if (current && !OPEN_STATUSES.includes(current.status)) {
      await client.close(paymentId).catch((closeError: Error) =>
        calls.logger.warn('could not close a provider order opened for a payment that moved on', { payment_id: paymentId, error: closeError.message }),
      );
    }
    throw error;
  }
}

/** A provider call whose failure is answered as the API answers provider failures (logged here). */
async function callProvider<T>(logger: Logger, payment: Payment, operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!isProviderError(error)) throw error;
    const fields = { payment_id: payment.id, provider: error.provider, operation, kind: error.kind, provider_code: error.code, error: error.message };
    if (error.kind === 'misconfigured') logger.error('payment provider refused our configuration', fields);
    else logger.warn('payment provider call failed; nothing changed', fields);
    throw providerFailure(error);
  }
}

/** Back-off of the recovery query: queryAfter × 2^attempts, at most 30 minutes apart. */
export function nextQueryDelaySeconds(queryAfterSeconds: number, attempts: number): number {
  return Math.min(queryAfterSeconds * 2 ** Math.min(attempts, 20), 30 * 60);
}

export type ProviderWordOutcome = 'succeeded' | 'already_succeeded' | 'late_success' | 'duplicate_paid' | 'failed' | 'already_closed' | 'amount_mismatch' | 'no_change';

/**
 * What a provider said when asked, through the same decisions as a notification: paid (with our exact
 * amount) → the success flow, failed → the failure flow; pending, closed or unknown move nothing (the
 * expiry decides those). A final state is never moved back: succeed/fail leave a closed payment closed.
 */
export function decideProviderWord(payment: PaymentAggregate, word: TradeStatus, provider: ProviderName, actor: string, origin: EventOrigin): ProviderWordOutcome {
  if (word.state === 'paid') {
    if (word.amountMinor !== payment.state.amountMinor) {
      payment.noteAmountMismatch(word.amountMinor ?? -1, actor);
      return 'amount_mismatch';
    }
    return payment.succeed({ transactionId: word.transactionId, provider, actor, origin });
  }
  if (word.state === 'failed') return payment.fail(`provider reports ${word.providerState}`, actor, provider, origin);
  return 'no_change';
}

/**
 * Recovery: every processing payment whose query is due is asked at its provider, on a back-off, until
 * final. Each replica takes its turn by saving the next query time first (a guarded write: of two
 * replicas only one wins and asks).
 */
export async function queryDuePayments(calls: ProviderCalls, now = new Date(), limit = 20): Promise<number> {
  let asked = 0;
  for (const due of await calls.store.dueForQuery(now, limit)) {
    const client = due.providerOrder ? calls.providers[due.providerOrder.provider] : undefined;
    if (!client) continue;
    const turn = await changePayment(calls.store, due.id, (payment) => {
      const { status, nextQueryAt, queryAttempts } = payment.state;
      if (status !== 'processing' || !nextQueryAt || nextQueryAt.getTime() > now.getTime()) return false;
      payment.takeQueryTurn(new Date(now.getTime() + nextQueryDelaySeconds(calls.queryAfterSeconds, queryAttempts + 1) * 1000));
      return true;
    });
    if (!turn.outcome) continue;
    asked++;
    let word: TradeStatus;
    try {
      word = await client.query(due.id);
    } catch (error) {
      if (!isProviderError(error)) throw error;
      calls.logger.warn('provider query failed; asking again later', { payment_id: due.id, kind: error.kind, provider_code: error.code });
      continue;
    }
    await applyProviderWord(calls, due.id, word, client.provider, 'system:provider-query');
  }
  return asked;
}

async function applyProviderWord(calls: ProviderCalls, paymentId: string, word: TradeStatus, provider: ProviderName, actor: string): Promise<ProviderWordOutcome> {
  const origin = { producer: PRODUCER };
  const { payment, outcome } = await changePayment(calls.store, paymentId, (aggregate) => decideProviderWord(aggregate, word, provider, actor, origin));
  logWordOutcome(calls.logger, payment, outcome, word);
  return outcome;
}

function logWordOutcome(logger: Logger, payment: Payment, outcome: ProviderWordOutcome, word: TradeStatus): void {
  if (outcome === 'amount_mismatch') {
    logger.error('provider reports another amount than the payment; not applied', { payment_id: payment.id, expected: payment.amountMinor, got: word.amountMinor });
  } else if (outcome === 'succeeded' || outcome === 'already_succeeded' || outcome === 'late_success' || outcome === 'duplicate_paid') {
    logSuccessOutcome(logger, payment, outcome, word);
  } else if (outcome !== 'no_change') {
    logger.info('provider query applied', { payment_id: payment.id, outcome, provider_state: word.providerState });
  }
}

/**
 * Before a payment opened at a provider is closed on our side, its provider order is closed and then
 * asked once more: what the provider answers then is final for the money (WeChat's close answers 204
 * whatever it did; Alipay's answers ACQ.TRADE_NOT_EXIST for an order the buyer never opened).
 * null: nothing was opened at a provider (or it is no longer configured), nothing to ask.
 */
export async function closeAtProvider(calls: ProviderCalls, payment: Payment): Promise<{ word: TradeStatus; client: ProviderClient } | null> {
  const client = payment.providerOrder ? calls.providers[payment.providerOrder.provider] : undefined;
  if (!client) return null;
  return callProvider(calls.logger, payment, 'close', async () => {
    await client.close(payment.id);
    return { word: await client.query(payment.id), client };
  });
}

/**
 * A local close (cancel or expire) of a payment that may be open at its provider: close it there first,
 * ask once more, then make the local move; a provider that took the money meanwhile leaves the payment
 * closed and flagged late_success (to refund). `move` returns false when there is nothing to do.
 * `closed` is the provider's answer when the caller already has it (the sweeper's grace handling).
 */
async function closeThenMove(
  calls: ProviderCalls,
  payment: Payment,
  move: (aggregate: PaymentAggregate) => boolean,
  origin: EventOrigin,
  viewer?: Identity,
  closed?: Awaited<ReturnType<typeof closeAtProvider>>,
): Promise<PaymentChanged<boolean>> {
  const answer = closed !== undefined ? closed : OPEN_STATUSES.includes(payment.status) ? await closeAtProvider(calls, payment) : null;
  const result = await changePayment(
    calls.store,
    payment.id,
    (aggregate) => {
      if (!move(aggregate)) return false;
      if (answer?.word.state === 'paid') decideProviderWord(aggregate, answer.word, answer.client.provider, `provider:${answer.client.provider}`, origin);
      return true;
    },
    viewer,
  );
  if (result.outcome && result.payment.lateSuccess && answer?.word.state === 'paid') logSuccessOutcome(calls.logger, result.payment, 'late_success', result.payment);
  return result;
}

/**
 * Cancel (the customer, an admin, or the order's cancellation), closed at the provider first.
 * `ifOpen`: a payment that is no longer open is left alone (false) instead of refused (409).
 */
export async function cancelAtProvider(
  calls: ProviderCalls,
  paymentId: string,
  reason: string,
  actor: string,
  origin: EventOrigin,
  options: { viewer?: Identity; ifOpen?: boolean } = {},
): Promise<PaymentChanged<boolean>> {
  const payment = await visiblePayment(calls.store, paymentId, options.viewer);
  return closeThenMove(
    calls,
    payment,
    (aggregate) => {
      if (options.ifOpen && !OPEN_STATUSES.includes(aggregate.status)) return false;
      aggregate.cancel(reason, actor, origin);
      return true;
    },
    origin,
    options.viewer,
  );
}

/** An admin expires a payment now, closed at the provider first. */
export async function expireAtProvider(calls: ProviderCalls, paymentId: string, actor: string, origin: EventOrigin, viewer?: Identity): Promise<PaymentChanged<boolean>> {
  const payment = await visiblePayment(calls.store, paymentId, viewer);
  return closeThenMove(
    calls,
    payment,
    (aggregate) => {
      aggregate.expire(actor, origin);
      return true;
    },
    origin,
    viewer,
  );
}

/** How long past its deadline a payment waits for its provider to confirm the close before it expires anyway. */
export const CLOSE_GRACE_MS = 5 * 60_000;

/**
 * The sweeper's pass: every open payment past `expires_at` is closed at its provider, asked once more
 * and expired (paid after all → expired and flagged late_success). Two replicas sweeping at once decide
 * on the same versions: one writes, the other re-reads an expired payment and leaves it alone.
 * A provider that cannot be reached holds the expiry back for CLOSE_GRACE_MS; after that the payment
 * expires anyway (the provider closes its order itself at the same deadline: `time_expire`), and a
 * success notified later is still flagged late_success.
 */
export async function expireOverduePayments(calls: ProviderCalls, now = new Date(), limit = 100): Promise<number> {
  let expired = 0;
  const origin = { producer: PRODUCER };
  for (const found of await calls.store.overdue(now, limit)) {
    let closed: Awaited<ReturnType<typeof closeAtProvider>> = null;
    try {
      closed = await closeAtProvider(calls, found);
    } catch (error) {
      if (now.getTime() - found.expiresAt.getTime() < CLOSE_GRACE_MS) continue;
      calls.logger.warn('expiring without a provider close: the provider did not answer within the grace period', { payment_id: found.id, error: (error as Error).message });
    }
    const { outcome } = await closeThenMove(
      calls,
      found,
      (aggregate) => {
        if (!OPEN_STATUSES.includes(aggregate.status) || !isExpiredAt(aggregate.state, now)) return false;
        aggregate.expire('system:sweeper', origin);
        return true;
      },
      origin,
      undefined,
      closed,
    );
    if (outcome) expired++;
  }
  if (expired > 0) calls.logger.info('expired overdue payments', { count: expired });
  return expired;
}
