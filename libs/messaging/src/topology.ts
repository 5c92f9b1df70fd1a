import amqp, { type Channel } from 'amqplib';
import { DEFAULT_RETRY_DELAYS_MS } from './retry-policy';
import type { ServiceEvents } from './service-events';

/**
 * What exists on the broker and what it is called: one durable topic exchange per environment, and per
 * consuming service a durable queue bound to exactly the event types it declares, its delay queues and
 * its dead-letter queue, and the service's own "moves" exchange. Declaring is idempotent, so every
 * process may declare what it needs; with per-service broker users the deployment declares it all
 * beforehand (broker definitions) and services only check it (BrokerOptions.declareTopology).
 */
export interface QueueNames {
  /**
   * A direct exchange per consuming service, bound to its main, delay and dead-letter queues by queue
   * name: the only way the service moves a message between them. Not the default exchange: write on
   * `amq.default` lets a user publish to ANY queue by name, and only this service's user may write to
   * its own moves exchange, so nobody else can put a message on its queues but through the events
   * exchange (where topic permissions limit each user to its own event types).
   */
  moves: string;
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
  return { moves: `${main}.moves`, main, retries: retryDelaysMs.map((delay) => `${main}.retry.${delay}ms`), dead: `${main}.dlq` };
}

export async function declareExchange(channel: Channel, prefix: string): Promise<void> {
  await channel.assertExchange(exchangeName(prefix), 'topic', { durable: true });
}

/** The exchange exists (declared by the deployment); a passive check needs no configure right. */
export async function checkExchange(channel: Channel, prefix: string): Promise<void> {
  await channel.checkExchange(exchangeName(prefix));
}

/** The arguments of each delay queue: its fixed TTL, then back to the main queue through the default exchange. */
export function retryQueueArguments(names: QueueNames, retryDelaysMs: readonly number[]): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    names.retries.map((queue, step) => [queue, { 'x-message-ttl': retryDelaysMs[step], 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': names.main }]),
  );
}

/**
 * A consuming service's queues and the bindings of its declared types. A binding the service no
 * longer declares is left alone (an older replica may still rely on it during a rolling deploy); what
 * arrives through it is dead-lettered with a reason by the consumer, and an operator removes it.
 */
export async function declareServiceQueues(channel: Channel, prefix: string, events: ServiceEvents, retryDelaysMs: readonly number[]): Promise<QueueNames> {
  const names = queueNames(prefix, events.service, retryDelaysMs);
  const retryArguments = retryQueueArguments(names, retryDelaysMs);
  await channel.assertQueue(names.main, { durable: true });
  for (const queue of names.retries) await channel.assertQueue(queue, { durable: true, arguments: retryArguments[queue] });
  await channel.assertQueue(names.dead, { durable: true });
  for (const type of events.consumes) await channel.bindQueue(names.main, exchangeName(prefix), type);
  await channel.assertExchange(names.moves, 'direct', { durable: true });
  for (const queue of [names.main, ...names.retries, names.dead]) await channel.bindQueue(queue, names.moves, queue);
  return names;
}

/**
 * The service's queues and moves exchange exist (declared by the deployment's broker definitions): a
 * service whose user may not configure or bind them checks them instead, and fails its start naming
 * what is missing. Bindings cannot be checked over AMQP; the definitions carry them.
 */
export async function checkServiceQueues(channel: Channel, prefix: string, events: ServiceEvents, retryDelaysMs: readonly number[]): Promise<QueueNames> {
  const names = queueNames(prefix, events.service, retryDelaysMs);
  for (const queue of [names.main, ...names.retries, names.dead]) await channel.checkQueue(queue);
  await channel.checkExchange(names.moves);
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
