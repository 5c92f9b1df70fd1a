import { createEvent, deterministicEventId, type EventEnvelope } from '@pay/contracts';
import type { Logger } from '@pay/logger';
import type { CallbackRequest, ProviderAdapter, ProviderAnswer, RejectReason } from '@pay/providers';
import { notificationKey, type NotificationLog } from './notification-log';

const PRODUCER = 'callback-gateway';

export interface CallbackDependencies {
  log: NotificationLog;
  /** Resolves only once the broker confirmed the event (publisher confirm). */
  publish(event: EventEnvelope): Promise<void>;
  logger: Logger;
  observe?(provider: string, outcome: CallbackOutcome, seconds: number): void;
}

export type CallbackOutcome = 'accepted' | 'replayed' | 'rejected' | 'retry_later';

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
 * A provider notification: verify (signature over the raw bytes, timestamp window) → refuse and report
 * `callback.rejected` if bad → seen before and handed on? answer success, no second effect → hand the
 * normalised notification on as `callback.verified` and answer success ONLY after the broker confirmed
 * it; if that fails, answer 5xx so the provider retries.
 */
export async function receiveCallback(
  provider: ProviderAdapter,
  request: CallbackRequest,
  deps: CallbackDependencies,
  correlationId: string,
  receivedAt = new Date(),
): Promise<ProviderAnswer> {
  const started = process.hrtime.bigint();
  const elapsedMs = () => Number(process.hrtime.bigint() - started) / 1e6;
  const finish = (outcome: CallbackOutcome, answer: ProviderAnswer) => {
    deps.observe?.(provider.name, outcome, elapsedMs() / 1000);
    return answer;
  };

  const verdict = provider.verify(request, receivedAt);
  if (!verdict.ok) {
    deps.logger.warn('callback refused', { provider: provider.name, reason: verdict.reason, detail: verdict.detail });
    const rejected = createEvent(
      'callback.rejected',
      { provider: provider.name, reason: `${verdict.reason}: ${verdict.detail}`.slice(0, 200), paymentId: null, notificationId: null, receivedAt: receivedAt.toISOString(), verifyMs: elapsedMs() },
      { producer: PRODUCER, correlation_id: correlationId },
    );
    // The refusal stands even if the report cannot be published; the failure is logged.
    await deps.publish(rejected).catch((error: Error) => deps.logger.error('could not publish callback.rejected', { error: error.message }));
    return finish('rejected', provider.refuse(statusForRejection(verdict.reason), verdict.reason));
  }

  const notification = verdict.notification;
  const key = notificationKey(notification);
  const eventId = deterministicEventId(key);
  try {
    const seen = await deps.log.recordOnce(notification, eventId, receivedAt);
    if (seen?.handedOff) {
      deps.logger.info('replayed notification acknowledged without effect', { provider: provider.name, notification_id: notification.notificationId });
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
        receivedAt: receivedAt.toISOString(),
        verifyMs: elapsedMs(),
      },
      { producer: PRODUCER, correlation_id: correlationId, id: eventId },
    );
    await deps.publish(verified);
    await deps.log.markHandedOff(key);
    deps.logger.info('notification verified and handed on', { provider: provider.name, payment_id: notification.paymentId, outcome: notification.outcome, event_id: eventId });
    return finish('accepted', provider.acknowledge());
  } catch (error) {
    // Not durably handed on: the provider must retry (the retry gets the same event id).
    deps.logger.error('could not hand the notification on; asking the provider to retry', { provider: provider.name, error: (error as Error).message });
    return finish('retry_later', provider.refuse(503, 'temporarily unavailable'));
  }
}
