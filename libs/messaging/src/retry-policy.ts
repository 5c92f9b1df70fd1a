import type { ConsumeMessage } from 'amqplib';
import type { QueueNames } from './topology';

/**
 * Back-off before each retry of a failed message: 1 s, 5 s, 30 s, 2 min, then every 10 min. With the
 * default 8 retries a message survives ~45 minutes of a dependency being down before it is parked in
 * the dead-letter queue (from where `npm run dlq -- <consumer> --replay` puts it back).
 */
export const DEFAULT_RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 120_000, 600_000];
export const DEFAULT_MAX_RETRIES = 8;

/** Failed attempts so far, carried on the message itself so that every replica counts the same. */
export const ATTEMPT_HEADER = 'x-attempt';
/** Why the message last left the main queue (a failure, or "no handler"); read it in the dead-letter queue. */
export const LAST_ERROR_HEADER = 'x-last-error';

export function attemptOf(message: Pick<ConsumeMessage, 'properties'>): number {
  return Number(message.properties.headers?.[ATTEMPT_HEADER] ?? 0);
}

export interface RetryPolicy {
  retryDelaysMs: readonly number[];
  maxRetries: number;
}

/** Where a message goes after failed attempt number `attempt` (0 = the first try): a delay queue, or the dead-letter queue. */
export function afterFailure(policy: RetryPolicy, names: QueueNames, attempt: number): { queue: string; attempt: number; dead: boolean } {
  if (attempt >= policy.maxRetries) return { queue: names.dead, attempt, dead: true };
  return { queue: retryQueueFor(names, attempt + 1), attempt: attempt + 1, dead: false };
}

/**
 * Where a copy goes whose event another consumer is handling right now: the first delay queue, with its
 * attempt count unchanged (nothing failed). By the time it comes back the holder has usually finished,
 * and the copy is then acknowledged as a duplicate.
 */
export function whileBusy(names: QueueNames, attempt: number): { queue: string; attempt: number } {
  return { queue: retryQueueFor(names, 1), attempt };
}

/** The delay queue for the n-th retry (1-based): the last step repeats. */
function retryQueueFor(names: QueueNames, retry: number): string {
  return names.retries[Math.min(retry, names.retries.length) - 1]!;
}
