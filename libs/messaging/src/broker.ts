import type { ChannelModel, ConfirmChannel } from 'amqplib';
import type { EventEnvelope, ServiceName } from '@pay/contracts';
import type { Logger } from '@pay/logger';
import { BrokerConnection } from './connection';
import { ServiceConsumer, type HandlersByType } from './consumer';
import { drainDeadLetters, replayDeadLetters, type DeadLetter } from './dead-letters';
import { BrokerUnavailable, UndeclaredEvent } from './errors';
import type { Inbox } from './inbox';
import type { BrokerObserver } from './observer';
import { brokerUser, type ProducerCheck } from './producer-check';
import { Publisher } from './publisher';
import { queueDepths, type QueueDepths } from './queue-depths';
import { DEFAULT_MAX_RETRIES, DEFAULT_RETRY_DELAYS_MS, type RetryPolicy } from './retry-policy';
import type { EventHandlers, ServiceEvents } from './service-events';
import { checkExchange, declareExchange, exchangeName, queueNames, type QueueNames } from './topology';

export interface BrokerOptions {
  url: string;
  prefix: string;
  service: string;
  logger: Logger;
  /**
   * The service's declaration, for a broker that publishes before (or without) consuming; a service
   * hands it to `consume` instead. Until the broker has one it publishes nothing.
   */
  events?: ServiceEvents;
  /** Back-off steps before a failed message is tried again (DEFAULT_RETRY_DELAYS_MS). */
  retryDelaysMs?: number[];
  /** Attempts after the first before a message goes to the dead-letter queue. */
  maxRetries?: number;
  reconnectDelayMs?: number;
  /** How long `start` keeps retrying an unreachable broker (default 60 s; 0: one attempt). */
  connectTimeoutMs?: number;
  /**
   * Declare the exchange and the service's queues (default true: development, tests, where the login may
   * configure anything). False (BROKER_DECLARE_TOPOLOGY=false) for a per-service broker user without
   * configure rights: the deployment's broker definitions declare everything and the service only checks.
   */
  declareTopology?: boolean;
  /**
   * The broker user of each producing service, for the consumer's producer check. Default: the service's
   * own name, as deployments name them; tests with per-run users pass their names.
   */
  producerUser?: (service: ServiceName) => string;
}

export interface ConsumeOptions {
  prefetch?: number;
  /** Claims each event id before its handler runs (@pay/db createInbox); every service passes one. */
  inbox?: Inbox;
}

/**
 * RabbitMQ with the delivery rules of the design, for one service: a durable topic exchange; the
 * service's durable queue bound to exactly the types its declaration consumes; persistent messages
 * published with confirms, and only the types it declares it emits; manual acks after the effect is
 * stored; bounded back-off retries, then a dead-letter queue; reconnection with queues and consumer
 * restored. Each job lives in its own module; this class wires them to one connection.
 */
export class Broker {
  observer: BrokerObserver = {};
  private served: ServiceEvents | null;
  private publisher: Publisher | null = null;
  private consumer: ServiceConsumer | null = null;
  private readonly connection: BrokerConnection;
  private readonly retry: RetryPolicy;
  private readonly producers: ProducerCheck;

  constructor(private readonly options: BrokerOptions) {
    if (options.events && options.events.service !== options.service) {
      throw new Error(`the broker of ${options.service} was given the events of ${options.events.service}`);
    }
    this.served = options.events ?? null;
    this.producers = { ownLogin: brokerUser(options.url), userOf: options.producerUser ?? ((service) => service) };
    this.retry = { retryDelaysMs: options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS, maxRetries: options.maxRetries ?? DEFAULT_MAX_RETRIES };
    this.connection = new BrokerConnection(
      { url: options.url, name: options.service, logger: options.logger, reconnectDelayMs: options.reconnectDelayMs ?? 1000, connectTimeoutMs: options.connectTimeoutMs },
      { opened: (connection, confirmChannel) => this.restore(connection, confirmChannel), lost: () => this.lose() },
    );
  }

  get exchange(): string {
    return exchangeName(this.options.prefix);
  }

  isConnected(): boolean {
    return this.connection.current !== null && this.publisher !== null;
  }

  /**
   * Connects, retrying an unreachable broker with back-off for up to `connectTimeoutMs`; throws a
   * message naming the fix when it still cannot be reached.
   */
  start(): Promise<void> {
    return this.connection.open();
  }

  private async restore(connection: ChannelModel, confirmChannel: ConfirmChannel): Promise<void> {
    await (this.options.declareTopology === false ? checkExchange : declareExchange)(confirmChannel, this.options.prefix);
    await this.consumer?.open(connection);
    this.publisher = new Publisher(confirmChannel, this.exchange, this.producers.ownLogin);
    this.options.logger.info('broker connected', { exchange: this.exchange, consumes: this.consumer ? this.served?.consumes : [] });
    this.observer.onConnectionChange?.(true);
  }

  private lose(): void {
    if (!this.publisher) return;
    this.publisher = null;
    this.observer.onConnectionChange?.(false);
  }

  /**
   * Publishes one event and resolves only when the broker has confirmed it (persisted and routed to at
   * least one queue). Rejects when the service does not declare the type in `emits` (UndeclaredEvent),
   * or when not connected, nacked or unroutable (BrokerUnavailable): the caller keeps the event.
   */
  async publish(event: EventEnvelope): Promise<void> {
    if (!this.served) throw new UndeclaredEvent(`${this.options.service} has not declared its events; it cannot publish ${event.type}`);
    if (!this.served.emits.includes(event.type)) {
      throw new UndeclaredEvent(`${this.options.service} does not emit ${event.type} (not in the emits of its src/events.ts)`);
    }
    const publisher = this.publisher;
    if (!publisher) throw new BrokerUnavailable('broker not connected');
    await publisher.publish(event);
    this.observer.onPublished?.(event.type);
  }

  /**
   * Consumes the service's queue, bound to exactly `events.consumes`, each type dispatched to its
   * handler; restored after a reconnect. From now on the broker publishes only `events.emits`.
   */
  async consume<D extends ServiceEvents>(events: D, handlers: EventHandlers<D>, options: ConsumeOptions = {}): Promise<void> {
    if (events.service !== this.options.service) throw new Error(`the broker of ${this.options.service} cannot consume for ${events.service}`);
    if (this.served && this.served !== events) throw new Error(`${this.options.service} was given two event declarations`);
    if (this.consumer) throw new Error(`${this.options.service} already consumes its queue`);
    const byType = handlers as unknown as HandlersByType;
    const missing = events.consumes.filter((type) => typeof byType[type] !== 'function');
    if (missing.length > 0) throw new Error(`${events.service} declares no handler for ${missing.join(', ')}`);
    this.served = events;
    if (events.consumes.length === 0) return;
    this.consumer = new ServiceConsumer(
      { events, handlers: byType, inbox: options.inbox ?? null, prefetch: options.prefetch ?? 10 },
      {
        prefix: this.options.prefix,
        retry: this.retry,
        logger: this.options.logger,
        observer: () => this.observer,
        declareTopology: this.options.declareTopology !== false,
        producers: this.producers,
        moveTo: (target, message, attempt, reason) => this.connectedPublisher().moveTo(target, message, attempt, reason),
      },
    );
    const connection = this.connection.current;
    if (connection) await this.consumer.open(connection);
  }

  /** Messages waiting in a consumer's queues (consumer lag, retries in flight, dead letters). */
  queueDepths(consumer: string): Promise<QueueDepths> {
    return queueDepths(this.connected(), this.namesOf(consumer));
  }

  /** Reads (and removes) messages from a consumer's dead-letter queue; for operators and tests. */
  drainDeadLetters(consumer: string, max = 100): Promise<DeadLetter[]> {
    return drainDeadLetters(this.connected(), this.namesOf(consumer), max);
  }

  /** Puts a consumer's dead letters back on its queue with a fresh retry budget (see dead-letters.ts). */
  async replayDeadLetters(consumer: string, max = 1000): Promise<number> {
    const replayed = await replayDeadLetters(this.connected(), this.connectedPublisher(), this.namesOf(consumer), max);
    if (replayed > 0) this.options.logger.info('dead letters replayed', { consumer, count: replayed });
    return replayed;
  }

  /** Stops consuming, lets in-flight deliveries finish, then closes. */
  async close(): Promise<void> {
    await this.consumer?.stop();
    await this.connection.close();
  }

  private namesOf(consumer: string): QueueNames {
    return queueNames(this.options.prefix, consumer, this.retry.retryDelaysMs);
  }

  private connected(): ChannelModel {
    const connection = this.connection.current;
    if (!connection) throw new BrokerUnavailable('broker not connected');
    return connection;
  }

  private connectedPublisher(): Publisher {
    if (!this.publisher) throw new BrokerUnavailable('broker not connected');
    return this.publisher;
  }
}
