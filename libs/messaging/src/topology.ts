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

export interface QueueNames {
  main: string;
  retry: string;
  dead: string;
}

export function exchangeName(prefix: string): string {
  return `${prefix}.events`;
}

export function queueNames(prefix: string, consumer: string): QueueNames {
  const main = `${prefix}.${consumer}`;
  return { main, retry: `${main}.retry`, dead: `${main}.dlq` };
}
