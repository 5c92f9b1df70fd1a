import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { parseEvent, type AnyEvent, type EventEnvelope } from '@pay/contracts';
import { withLogContext, type Logger } from '@pay/logger';
import { CONSUMER_BINDINGS, DEFAULT_MAX_RETRIES, DEFAULT_RETRY_DELAYS_MS, exchangeName, queueNames, retryQueueFor } from './topology';

export class BrokerUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BrokerUnavailable';
  }
}

/** Consumer-side record of handled event ids (see @pay/db createInbox). */
export interface Inbox {
  seen(eventId: string): Promise<boolean>;
  record(eventId: string, type: string): Promise<void>;
}

export interface BrokerOptions {
  url: string;
  prefix: string;
  service: string;
  logger: Logger;
  /** Back-off steps before a failed message is tried again (DEFAULT_RETRY_DELAYS_MS). */
  retryDelaysMs?: number[];
  /** Attempts after the first before a message goes to the dead-letter queue. */
  maxRetries?: number;
  reconnectDelayMs?: number;
}

export interface ConsumeOptions {
  prefetch?: number;
  inbox?: Inbox;
}

export type EventHandler = (event: AnyEvent) => Promise<void>;

/** Hooks for metrics without tying this package to a metrics library. */
export interface BrokerObserver {
  onPublished?(type: string): void;
  onConsumed?(type: string, outcome: 'handled' | 'duplicate' | 'retried' | 'dead_lettered', redelivered: boolean): void;
  onConnectionChange?(connected: boolean): void;
}

interface Subscription {
  consumer: string;
  handler: EventHandler;
  options: ConsumeOptions;
}

const ATTEMPT_HEADER = 'x-attempt';

/**
 * RabbitMQ with the delivery rules of the design: durable topic exchange, durable per-service queues,
 * persistent messages published with confirms (an unroutable message counts as a failure), manual acks
 * after the effect is stored, bounded retries through a delayed retry queue, then a dead-letter queue,
 * and reconnection (topology and consumers restored) after a broker restart.
 */
export class Broker {
  private connection: ChannelModel | null = null;
  private publishChannel: ConfirmChannel | null = null;
  private consumeChannels: { channel: Channel; tag: string }[] = [];
  private readonly subscriptions: Subscription[] = [];
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private connecting: Promise<void> | null = null;
  private readonly returned = new Set<string>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly retryDelaysMs: number[];
  private readonly maxRetries: number;
  private readonly reconnectDelayMs: number;
  observer: BrokerObserver = {};

  constructor(private readonly options: BrokerOptions) {
    this.retryDelaysMs = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    this.maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.reconnectDelayMs = options.reconnectDelayMs ?? 1000;
  }

  get exchange(): string {
    return exchangeName(this.options.prefix);
  }

  isConnected(): boolean {
    return this.connection !== null && this.publishChannel !== null;
  }

  /** Connects once; throws a message naming the fix when the broker cannot be reached. */
  async start(): Promise<void> {
    try {
      await this.connect();
    } catch (error) {
      throw new BrokerUnavailable(
        `cannot reach RabbitMQ at ${redactUrl(this.options.url)} (${(error as Error).message}); start RabbitMQ or set AMQP_URL`,
      );
    }
  }

  private connect(): Promise<void> {
    this.connecting ??= this.openConnection().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async openConnection(): Promise<void> {
    const connection = await amqp.connect(this.options.url, { clientProperties: { connection_name: this.options.service } });
    connection.on('error', (error: Error) => this.options.logger.warn('broker connection error', { error: error.message }));
    connection.on('close', () => this.handleConnectionLost());
    const publishChannel = await connection.createConfirmChannel();
    publishChannel.on('return', (message: ConsumeMessage) => {
      if (message.properties.messageId) this.returned.add(message.properties.messageId);
    });
    publishChannel.on('error', (error: Error) => this.options.logger.warn('broker publish channel error', { error: error.message }));
    await this.declareTopology(publishChannel);
    this.connection = connection;
    this.publishChannel = publishChannel;
    this.consumeChannels = [];
    for (const subscription of this.subscriptions) await this.openConsumer(subscription);
    this.options.logger.info('broker connected', { exchange: this.exchange, consumers: this.subscriptions.map((s) => s.consumer) });
    this.observer.onConnectionChange?.(true);
  }

  private async declareTopology(channel: Channel): Promise<void> {
    await channel.assertExchange(this.exchange, 'topic', { durable: true });
    for (const [consumer, bindings] of Object.entries(CONSUMER_BINDINGS)) {
      const names = queueNames(this.options.prefix, consumer, this.retryDelaysMs);
      await channel.assertQueue(names.main, { durable: true });
      for (const [step, queue] of names.retries.entries()) {
        await channel.assertQueue(queue, {
          durable: true,
          // Expired retries go back to the main queue through the default exchange.
          arguments: { 'x-message-ttl': this.retryDelaysMs[step], 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': names.main },
        });
      }
      await channel.assertQueue(names.dead, { durable: true });
      for (const key of bindings) await channel.bindQueue(names.main, this.exchange, key);
    }
  }

  private handleConnectionLost(): void {
    const wasConnected = this.connection !== null;
    this.connection = null;
    this.publishChannel = null;
    this.consumeChannels = [];
    if (wasConnected) this.observer.onConnectionChange?.(false);
    if (this.closing) return;
    this.options.logger.warn('broker connection lost; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closing) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().catch((error: Error) => {
        this.options.logger.warn('broker reconnect failed', { error: error.message });
        this.scheduleReconnect();
      });
    }, this.reconnectDelayMs);
  }

  /**
   * Publishes one event and resolves only when the broker has confirmed it (persisted and routed to at
   * least one queue). Rejects when not connected, nacked, or unroutable: the caller keeps the event.
   */
  async publish(event: EventEnvelope): Promise<void> {
    const channel = this.publishChannel;
    if (!channel) throw new BrokerUnavailable('broker not connected');
    const body = Buffer.from(JSON.stringify(event));
    await new Promise<void>((resolve, reject) => {
      const accepted = channel.publish(
        this.exchange,
        event.type,
        body,
        {
          persistent: true,
          mandatory: true,
          contentType: 'application/json',
          messageId: event.id,
          type: event.type,
          correlationId: event.correlation_id,
          timestamp: Math.floor(Date.parse(event.occurred_at) / 1000),
          headers: { [ATTEMPT_HEADER]: 0 },
        },
        (error: unknown) => {
          if (error) return reject(new BrokerUnavailable(`broker refused ${event.type} ${event.id}`));
          // A `return` arrives before the confirm of the same message.
          if (this.returned.delete(event.id)) return reject(new BrokerUnavailable(`no queue is bound for ${event.type}`));
          resolve();
        },
      );
      void accepted; // back-pressure: the confirm callback is the signal we wait for
    }).catch((error: unknown) => {
      throw error instanceof BrokerUnavailable ? error : new BrokerUnavailable(String(error));
    });
    this.observer.onPublished?.(event.type);
  }

  /** Consumes the service's queue (bindings from CONSUMER_BINDINGS); restored after a reconnect. */
  async consume(consumer: string, handler: EventHandler, options: ConsumeOptions = {}): Promise<void> {
    if (!CONSUMER_BINDINGS[consumer]) throw new Error(`no bindings declared for consumer ${consumer}`);
    const subscription = { consumer, handler, options };
    this.subscriptions.push(subscription);
    if (this.connection) await this.openConsumer(subscription);
  }

  private async openConsumer(subscription: Subscription): Promise<void> {
    if (!this.connection) return;
    const channel = await this.connection.createChannel();
    channel.on('error', (error: Error) => this.options.logger.warn('broker consume channel error', { error: error.message }));
    await channel.prefetch(subscription.options.prefetch ?? 10);
    const names = queueNames(this.options.prefix, subscription.consumer, this.retryDelaysMs);
    const { consumerTag } = await channel.consume(names.main, (message) => {
      if (!message) return;
      const work = this.deliver(channel, subscription, message).catch((error: Error) =>
        this.options.logger.error('delivery handling failed; message stays unacked for redelivery', { error: error.message }),
      );
      this.inFlight.add(work);
      void work.finally(() => this.inFlight.delete(work));
    });
    this.consumeChannels.push({ channel, tag: consumerTag });
  }

  private async deliver(channel: Channel, { consumer, handler, options }: Subscription, message: ConsumeMessage): Promise<void> {
    const names = queueNames(this.options.prefix, consumer, this.retryDelaysMs);
    const attempt = Number(message.properties.headers?.[ATTEMPT_HEADER] ?? 0);
    let event: AnyEvent;
    try {
      event = parseEvent(JSON.parse(message.content.toString('utf8')));
    } catch (error) {
      // A message that can never be valid goes straight to the dead-letter queue, kept for inspection.
      this.options.logger.error('invalid message dead-lettered', { queue: names.main, error: (error as Error).message });
      await this.sendToQueue(names.dead, message, attempt, (error as Error).message);
      channel.ack(message);
      this.observer.onConsumed?.('invalid', 'dead_lettered', message.fields.redelivered);
      return;
    }
    await withLogContext({ correlation_id: event.correlation_id, causation_id: event.id }, async () => {
      try {
        if (options.inbox && (await options.inbox.seen(event.id))) {
          this.options.logger.info('duplicate event ignored', { event_id: event.id, type: event.type });
          channel.ack(message);
          this.observer.onConsumed?.(event.type, 'duplicate', message.fields.redelivered);
          return;
        }
        await handler(event);
        if (options.inbox) await options.inbox.record(event.id, event.type);
        channel.ack(message);
        this.observer.onConsumed?.(event.type, 'handled', message.fields.redelivered);
      } catch (error) {
        const reason = (error as Error).message;
        if (attempt < this.maxRetries) {
          this.options.logger.warn('event handling failed; will retry', { event_id: event.id, type: event.type, attempt: attempt + 1, error: reason });
          await this.sendToQueue(retryQueueFor(names, attempt + 1), message, attempt + 1, reason);
          this.observer.onConsumed?.(event.type, 'retried', message.fields.redelivered);
        } else {
          this.options.logger.error('event handling failed after retries; dead-lettered', { event_id: event.id, type: event.type, error: reason });
          await this.sendToQueue(names.dead, message, attempt, reason);
          this.observer.onConsumed?.(event.type, 'dead_lettered', message.fields.redelivered);
        }
        channel.ack(message);
      }
    });
  }

  /** Moves a message to the retry or dead-letter queue; confirmed before the original is acked. */
  private async sendToQueue(queue: string, message: Pick<ConsumeMessage, 'content' | 'properties'>, attempt: number, reason: string): Promise<void> {
    const channel = this.publishChannel;
    if (!channel) throw new BrokerUnavailable('broker not connected');
    await new Promise<void>((resolve, reject) => {
      channel.sendToQueue(
        queue,
        message.content,
        {
          ...message.properties,
          persistent: true,
          headers: { ...message.properties.headers, [ATTEMPT_HEADER]: attempt, 'x-last-error': reason.slice(0, 500) },
        },
        (error: unknown) => (error ? reject(new BrokerUnavailable(`broker refused message for ${queue}`)) : resolve()),
      );
    });
  }

  /**
   * Messages waiting in a consumer's queues (consumer lag, retries in flight, dead letters). A separate
   * short-lived channel: a failed check closes the channel it runs on.
   */
  async queueDepths(consumer: string): Promise<{ main: number; retry: number; dead: number }> {
    if (!this.connection) throw new BrokerUnavailable('broker not connected');
    const channel = await this.connection.createChannel();
    channel.on('error', () => undefined);
    try {
      const names = queueNames(this.options.prefix, consumer, this.retryDelaysMs);
      const [main, dead, ...retries] = await Promise.all([names.main, names.dead, ...names.retries].map((queue) => channel.checkQueue(queue)));
      return { main: main!.messageCount, retry: retries.reduce((sum, queue) => sum + queue.messageCount, 0), dead: dead!.messageCount };
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** Reads (and removes) messages from a dead-letter queue; for operators and tests. */
  async drainDeadLetters(consumer: string, max = 100): Promise<{ content: unknown; headers: Record<string, unknown> }[]> {
    if (!this.connection) throw new BrokerUnavailable('broker not connected');
    const channel = await this.connection.createChannel();
    const out: { content: unknown; headers: Record<string, unknown> }[] = [];
    try {
      for (let i = 0; i < max; i++) {
        const message = await channel.get(queueNames(this.options.prefix, consumer, this.retryDelaysMs).dead, { noAck: true });
        if (!message) break;
        out.push({ content: JSON.parse(message.content.toString('utf8')), headers: message.properties.headers ?? {} });
      }
    } finally {
      await channel.close().catch(() => undefined);
    }
    return out;
  }

  /**
   * Puts dead-lettered messages back on the consumer's queue with a fresh retry budget (after the cause
   * was fixed). Each is confirmed on the queue before it leaves the dead-letter queue: at worst a
   * message is delivered twice, which consumers absorb by event id.
   */
  async replayDeadLetters(consumer: string, max = 1000): Promise<number> {
    if (!this.connection || !this.publishChannel) throw new BrokerUnavailable('broker not connected');
    const names = queueNames(this.options.prefix, consumer, this.retryDelaysMs);
    const channel = await this.connection.createChannel();
    let replayed = 0;
    try {
      for (; replayed < max; replayed++) {
        const message = await channel.get(names.dead, { noAck: false });
        if (!message) break;
        await this.sendToQueue(names.main, message, 0, 'replayed from the dead-letter queue');
        channel.ack(message);
      }
    } finally {
      await channel.close().catch(() => undefined);
    }
    if (replayed > 0) this.options.logger.info('dead letters replayed', { consumer, count: replayed });
    return replayed;
  }

  /** Stops consuming, lets in-flight deliveries finish, then closes. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    // Stop taking work first; in-flight deliveries still need their channel to ack.
    for (const { channel, tag } of this.consumeChannels) await channel.cancel(tag).catch(() => undefined);
    await Promise.allSettled([...this.inFlight]);
    for (const { channel } of this.consumeChannels) await channel.close().catch(() => undefined);
    await this.connection?.close().catch(() => undefined);
    this.connection = null;
    this.publishChannel = null;
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');
}
