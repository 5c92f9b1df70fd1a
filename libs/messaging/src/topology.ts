import amqp, { type Channel } from 'amqplib';
import { DEFAULT_RETRY_DELAYS_MS } from './retry-policy';
import type { ServiceEvents } from './service-events';

/**
 * What exists on the broker and what it is called: one durable topic exchange per environment, and per
 * consuming service a durable queue bound to exactly the event types it declares, its delay queues and
 * its dead-letter queue. Declaring is idempotent, so every process may declare what it needs.
 */
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

export async function declareExchange(channel: Channel, prefix: string): Promise<void> {
  await channel.assertExchange(exchangeName(prefix), 'topic', { durable: true });
}

/**
 * A consuming service's queues and the bindings of its declared types. A binding the service no
 * longer declares is left alone (an older replica may still rely on it during a rolling deploy); what
 * arrives through it is dead-lettered with a reason by the consumer, and an operator removes it.
 */
export async function declareServiceQueues(channel: Channel, prefix: string, events: ServiceEvents, retryDelaysMs: readonly number[]): Promise<QueueNames> {
  const names = queueNames(prefix, events.service, retryDelaysMs);
  await channel.assertQueue(names.main, { durable: true });
  for (const [step, queue] of names.retries.entries()) {
    await channel.assertQueue(queue, {
      durable: true,
      // Expired retries go back to the main queue through the default exchange.
      arguments: { 'x-message-ttl': retryDelaysMs[step], 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': names.main },
    });
  }
  await channel.assertQueue(names.dead, { durable: true });
  for (const type of events.consumes) await channel.bindQueue(names.main, exchangeName(prefix), type);
  return names;
}

/**
 * Declares the whole topology of an environment: every consumer's queue must exist and be bound before
 * any producer publishes, or the events published meanwhile never reach it (they are routed only to the
 * queues bound at that moment). Run before the services start (test stack, `npm start`).
 */
export async function declareTopology(
  url: string,
  prefix: string,
  declarations: readonly ServiceEvents[],
  retryDelaysMs: readonly number[] = DEFAULT_RETRY_DELAYS_MS,
): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    await declareExchange(channel, prefix);
    for (const events of declarations) if (events.consumes.length > 0) await declareServiceQueues(channel, prefix, events, retryDelaysMs);
    await channel.close();
  } finally {
    await connection.close();
  }
}
