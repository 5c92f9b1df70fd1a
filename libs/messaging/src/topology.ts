import type { EventType } from '@pay/contracts';

/**
 * Who listens to what, in one place. Every service declares the whole topology at start-up
 * (idempotent), so a queue exists, and a published event is kept, even before its consumer first runs.
 */
export const CONSUMER_BINDINGS: Record<string, (EventType | '#')[]> = {
  'order-service': ['payment.succeeded'],
  'payment-service': ['callback.verified', 'order.created', 'order.cancelled'],
  'audit-service': ['#'],
  // The callback gateway's own view of payments, for the amount check of provider notifications.
  'callback-gateway': ['payment.created'],
};

/**
 * Back-off before each retry of a failed message: 1 s, 5 s, 30 s, 2 min, then every 10 min. With the
 * default 8 retries a message survives ~45 minutes of a dependency being down before it is parked in
 * the dead-letter queue (from where `npm run dlq -- <consumer> --replay` puts it back).
 */
export const DEFAULT_RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 120_000, 600_000];
export const DEFAULT_MAX_RETRIES = 8;

export interface QueueNames {
  main: string;
  /** One delay queue per back-off step (fixed TTL each: per-message TTLs block behind each other). */
  retries: string[];
  dead: string;
}

export function exchangeName(prefix: string): string {
  return `${prefix}.events`;
}

export function queueNames(prefix: string, consumer: string, retryDelaysMs: readonly number[] = DEFAULT_RETRY_DELAYS_MS): QueueNames {
  const main = `${prefix}.${consumer}`;
  return { main, retries: retryDelaysMs.map((delay) => `${main}.retry.${delay}ms`), dead: `${main}.dlq` };
}

/** The delay queue for the n-th retry (1-based): the last step repeats. */
export function retryQueueFor(names: QueueNames, retry: number): string {
  return names.retries[Math.min(retry, names.retries.length) - 1]!;
}
