import { faultPoint } from '@pay/config';
import { createEvent, deterministicEventId, type EventEnvelope } from '@pay/contracts';
import type { Logger } from '@pay/logger';
import type { CallbackRequest, NormalizedNotification, ProviderAdapter, ProviderAnswer, RejectReason } from '@pay/providers';
import { waitForPayment, type KnownPayments } from './known-payments';
import { matchPayment } from './match-payment';
import { notificationKey, type NotificationLog } from './notification-log';

const PRODUCER = 'callback-gateway';

export interface CallbackDependencies {
  log: NotificationLog;
  /** Our view of payments (from payment.created), for the provider and amount checks. */
  payments: KnownPayments;
  /** How long a notification waits for a payment.created not yet received before the provider must retry. */
  paymentWaitMs: number;
  /** Resolves only once the broker confirmed the event (publisher confirm). */
  publish(event: EventEnvelope): Promise<void>;
  logger: Logger;
  observe?(provider: string, outcome: CallbackOutcome, seconds: number): void;
}

/**
 * accepted / replayed: answered success; rejected: refused for good (4xx);
 * payment_unknown, retry_later: answered 503 so the provider retries.
 */
export type CallbackOutcome = 'accepted' | 'replayed' | 'rejected' | 'payment_unknown' | 'retry_later';

/**
 * A verified notification whose amount or provider is not our payment's: a business rule, as in the
 * public API.
 */
export const MISMATCH_STATUS = 422;

const MISMATCH_LOG = {
  amount_mismatch: 'verified notification refused: amount differs from the payment',
  provider_mismatch: "verified notification refused: it comes from another provider than the payment's",
} as const;

/** How a notification that failed verification is answered once its sender is over the refusal limit. */
export const REFUSAL_LIMIT_STATUS = 429;

export interface CallbackOptions {
  receivedAt?: Date;
  /**
   * Asked only about a notification that failed verification, before it is reported: false when its
   * sender has been refused too often (the HTTP edge's per-address limit), and it is then answered 429
   * without a report. A notification whose signature verifies is never asked about, so forged requests
   * from the same address (behind an ingress: every address) cannot lock a provider out.
   */
  mayRefuse?(): Promise<boolean>;
}

/** How each refusal is answered: 401 for a signature we cannot trust, 413 too big, 400 otherwise. */
export function statusForRejection(reason: RejectReason): number {
  switch (reason) {
    case 'bad_signature':
    case 'missing_signature':
    case 'unknown_serial':
      return 401;
    case 'body_too_large':
      return 413;
    default:
      return 400;
  }
}

/**
 * A provider notification, of a payment's result or (WeChat REFUND.*) of a refund's: verify (signature
 * over the raw bytes, timestamp window) → refuse and report `callback.rejected` if bad → payment not
 * known (yet)? ask the provider to retry (503) → not the provider of the payment's method, or not our
 * payment's amount (for a refund too: it states the paid total)? refuse (422) and report
 * `callback.rejected` (provider_mismatch, amount_mismatch) → seen before and handed on? answer
 * success, no second effect → hand the normalised notification on as `callback.verified` (a refund
 * result with the refund's id, status and amount) and answer success ONLY after the broker confirmed
 * it; if that fails, answer 5xx so the provider retries. A sender over the refusal limit
 * (`options.mayRefuse`) gets 429 for a notification that fails verification, with nothing reported.
 */
export async function receiveCallback(
  provider: ProviderAdapter,
  request: CallbackRequest,
  deps: CallbackDependencies,
  correlationId: string,
  options: CallbackOptions = {},
): Promise<ProviderAnswer> {
  const receivedAt = options.receivedAt ?? new Date();
  const started = process.hrtime.bigint();
  const elapsedMs = () => Number(process.hrtime.bigint() - started) / 1e6;
  const finish = (outcome: CallbackOutcome, answer: ProviderAnswer) => {
    deps.observe?.(provider.name, outcome, elapsedMs() / 1000);
    return answer;
  };
  const report = (reason: string, notification: NormalizedNotification | null) =>
    reportRejection(deps, { provider: provider.name, reason, notification, receivedAt, verifyMs: elapsedMs(), correlationId });

  const verdict = provider.verify(request, receivedAt);
  if (!verdict.ok) {
    if (options.mayRefuse && !(await options.mayRefuse())) {
      deps.logger.warn('callback refusals over the limit for this address; answering 429 without reporting', { provider: provider.name, reason: verdict.reason });
      return finish('rejected', provider.refuse(REFUSAL_LIMIT_STATUS, 'too many refused callbacks'));
    }
    deps.logger.warn('callback refused', { provider: provider.name, reason: verdict.reason, detail: verdict.detail });
    await report(`${verdict.reason}: ${verdict.detail}`, null);
    return finish('rejected', provider.refuse(statusForRejection(verdict.reason), verdict.reason));
  }

  const notification = verdict.notification;
  const key = notificationKey(notification);
  try {
    const match = matchPayment(notification, await waitForPayment(deps.payments, notification.paymentId, deps.paymentWaitMs));
    if (match.kind === 'unknown_payment') {
      // Never accepted blindly (the amount could not be checked), never dropped: the provider retries.
      deps.logger.warn('notification for a payment not known here (yet); asking the provider to retry', logFields(notification));
      return finish('payment_unknown', provider.refuse(503, 'payment not known yet, retry later'));
    }
    if (match.kind === 'provider_mismatch' || match.kind === 'amount_mismatch') {
      deps.logger.warn(MISMATCH_LOG[match.kind], { ...logFields(notification), detail: match.detail });
      await report(`${match.kind}: ${match.detail}`, notification);
      return finish('rejected', provider.refuse(MISMATCH_STATUS, match.kind));
    }
    if (!match.providerChecked) {
      deps.logger.warn('payment recorded without its method (by an older gateway): the provider of this notification is not checked', logFields(notification));
    }

    const eventId = deterministicEventId(key);
    const seen = await deps.log.find(key);
    if (seen?.handedOff) {
      deps.logger.info('replayed notification acknowledged without effect', logFields(notification));
      return finish('replayed', provider.acknowledge());
    }
    const verified = createEvent(
      'callback.verified',
      {
        provider: notification.provider,
        notificationId: notification.notificationId,
        paymentId: notification.paymentId,
        transactionId: notification.transactionId,
        outcome: notification.outcome,
        amountMinor: notification.amountMinor,
        ...(notification.refund ? { refund: notification.refund } : {}),
        receivedAt: receivedAt.toISOString(),
        verifyMs: elapsedMs(),
      },
      { producer: PRODUCER, correlation_id: correlationId, id: eventId },
    );
    await deps.publish(verified);
    // Handed on, not yet recorded, the provider unanswered: its retry publishes the same event id again.
    faultPoint('callback.after-confirm-before-answer');
    await deps.log.recordHandedOff(notification, eventId, receivedAt);
    deps.logger.info('notification verified and handed on', { ...logFields(notification), outcome: notification.outcome, event_id: eventId });
    return finish('accepted', provider.acknowledge());
  } catch (error) {
    // Not checked or not durably handed on: the provider must retry (the retry gets the same event id).
    deps.logger.error('could not check or hand the notification on; asking the provider to retry', { ...logFields(notification), error: (error as Error).message });
    return finish('retry_later', provider.refuse(503, 'temporarily unavailable'));
  }
}

/** What every log line about a verified notification names; for a refund result, the refund too. */
function logFields(notification: NormalizedNotification): Record<string, string> {
  return {
    provider: notification.provider,
    payment_id: notification.paymentId,
    notification_id: notification.notificationId,
    ...(notification.refund ? { refund_id: notification.refund.refundId, refund_status: notification.refund.status } : {}),
  };
}

interface Rejection {
  provider: string;
  reason: string;
  /** The verified notification, when the refusal is about its content rather than its signature. */
  notification: NormalizedNotification | null;
  receivedAt: Date;
  verifyMs: number;
  correlationId: string;
}

/**
 * Reports a refusal as `callback.rejected`. A refused verified notification is retried by its provider
 * with the same id: its reports share one deterministic event id, so it is audited once.
 * The refusal stands even if the report cannot be published; the failure is logged.
 */
async function reportRejection(deps: CallbackDependencies, rejection: Rejection): Promise<void> {
  const { notification } = rejection;
  const reason = rejection.reason.slice(0, 200);
  const rejected = createEvent(
    'callback.rejected',
    {
      provider: rejection.provider,
      reason,
      paymentId: notification?.paymentId ?? null,
      notificationId: notification?.notificationId ?? null,
      receivedAt: rejection.receivedAt.toISOString(),
      verifyMs: rejection.verifyMs,
    },
    {
      producer: PRODUCER,
      correlation_id: rejection.correlationId,
      ...(notification ? { id: deterministicEventId(`${notificationKey(notification)}:rejected:${reason.split(':')[0]}`) } : {}),
    },
  );
  await deps.publish(rejected).catch((error: Error) => deps.logger.error('could not publish callback.rejected', { error: error.message }));
}
