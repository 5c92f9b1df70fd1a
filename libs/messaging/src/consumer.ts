import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { faultPoint } from '@pay/config';
import { parseEvent, type AnyEvent, type EventType } from '@pay/contracts';
import { withLogContext, type Logger } from '@pay/logger';
import type { Inbox } from './inbox';
import type { BrokerObserver, ConsumeOutcome } from './observer';
import { producerRefusal, publishingUser, type ProducerCheck } from './producer-check';
import { afterFailure, attemptOf, whileBusy, type RetryPolicy } from './retry-policy';
import type { ServiceEvents } from './service-events';
import { checkServiceQueues, declareServiceQueues, queueNames, type QueueNames } from './topology';

type AnyHandler = (event: AnyEvent) => Promise<void>;
/** A service's EventHandlers seen from the dispatcher: it looks a handler up by the delivered type. */
export type HandlersByType = Readonly<Partial<Record<EventType, AnyHandler>>>;

export interface Subscription {
  events: ServiceEvents;
  handlers: HandlersByType;
  /** Without one, two copies of an event delivered at once both run the handler: services always pass one. */
  inbox: Inbox | null;
  prefetch: number;
}

export interface ConsumerContext {
  prefix: string;
  retry: RetryPolicy;
  logger: Logger;
  observer(): BrokerObserver;
  /** Declare the service's queues and bindings on each connection; false: only check that they exist. */
  declareTopology: boolean;
  /** Who may have published what (producer-check.ts). */
  producers: ProducerCheck;
  /** Confirmed on the target queue before the original is acked (see Publisher.moveTo). */
  moveTo(target: { exchange: string; queue: string }, message: ConsumeMessage, attempt: number, reason: string): Promise<void>;
}

/**
 * Takes one service's messages off its queue and settles each one: validate → check its producer → find its handler → claim
 * the event in the inbox → run the handler → complete the claim → ack. A message that cannot be settled
 * so leaves the main queue, confirmed, for a delay queue or the dead-letter queue before it is acked:
 * nothing is acknowledged without either its effect or a copy kept elsewhere.
 */
export class ServiceConsumer {
  private active: { channel: Channel; tag: string } | null = null;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly names: QueueNames;

  constructor(
    private readonly subscription: Subscription,
    private readonly context: ConsumerContext,
  ) {
    this.names = queueNames(context.prefix, subscription.events.service, context.retry.retryDelaysMs);
  }

  /** On each (re)connection: declares the service's queues and bindings, then takes messages. */
  async open(connection: ChannelModel): Promise<void> {
    const channel = await connection.createChannel();
    channel.on('error', (error: Error) => this.context.logger.warn('broker consume channel error', { error: error.message }));
    const prepare = this.context.declareTopology ? declareServiceQueues : checkServiceQueues;
    await prepare(channel, this.context.prefix, this.subscription.events, this.context.retry.retryDelaysMs);
    await channel.prefetch(this.subscription.prefetch);
    const { consumerTag } = await channel.consume(this.names.main, (message) => {
      if (!message) return;
      const work = this.settle(channel, message).catch((error: Error) =>
        this.context.logger.error('delivery handling failed; message stays unacked for redelivery', { error: error.message }),
      );
      this.inFlight.add(work);
      void work.finally(() => this.inFlight.delete(work));
    });
    this.active = { channel, tag: consumerTag };
  }

  /** Stops taking messages and lets the ones in hand finish (they still need their channel to ack). */
  async stop(): Promise<void> {
    const active = this.active;
    this.active = null;
    if (active) await active.channel.cancel(active.tag).catch(() => undefined);
    await Promise.allSettled([...this.inFlight]);
    if (active) await active.channel.close().catch(() => undefined);
  }

  private async settle(channel: Channel, message: ConsumeMessage): Promise<void> {
    const attempt = attemptOf(message);
    let event: AnyEvent;
    try {
      event = parseEvent(JSON.parse(message.content.toString('utf8')));
    } catch (error) {
      // A message that can never be valid goes straight to the dead-letter queue, kept for inspection.
      this.context.logger.error('invalid message dead-lettered', { queue: this.names.main, error: (error as Error).message });
      await this.park(channel, message, 'invalid', attempt, (error as Error).message);
      return;
    }
    await withLogContext({ correlation_id: event.correlation_id, causation_id: event.id }, async () => {
      const publishedBy = publishingUser(message, this.context.producers.ownLogin);
      const refusal = producerRefusal(event, publishedBy, this.context.producers);
      if (refusal) {
        // Someone not entitled to this type put it on our queue: kept for inspection, never handled nor acked unseen.
        this.context.logger.warn('event from an unauthorized producer dead-lettered', { event_id: event.id, type: event.type, producer: event.producer, published_by: publishedBy, reason: refusal });
        await this.park(channel, message, event.type, attempt, refusal, 'refused');
        return;
      }
      const handler = this.handlerFor(event.type);
      if (!handler) {
        // Delivered through a binding the service does not declare (left on the durable queue by an
        // older version, or added by hand): kept, with the reason, instead of acknowledged unhandled.
        const reason = `no handler for ${event.type} in ${this.subscription.events.service}`;
        this.context.logger.error('event without a handler dead-lettered', { event_id: event.id, type: event.type, reason });
        await this.park(channel, message, event.type, attempt, reason);
        return;
      }
      let outcome: 'handled' | 'done' | 'busy';
      try {
        outcome = await this.runOnce(event, handler);
      } catch (error) {
        await this.retryOrPark(channel, message, event, attempt, (error as Error).message);
        return;
      }
      if (outcome === 'busy') {
        const later = whileBusy(this.names, attempt);
        await this.context.moveTo({ exchange: this.names.moves, queue: later.queue }, message, later.attempt, `event ${event.id} is being handled by another consumer`);
      } else if (outcome === 'done') {
        this.context.logger.info('duplicate event ignored', { event_id: event.id, type: event.type });
      }
      channel.ack(message);
      this.observe(event.type, outcome === 'done' ? 'duplicate' : outcome, message);
    });
  }

  private handlerFor(type: EventType): AnyHandler | undefined {
    return this.subscription.events.consumes.includes(type) ? this.subscription.handlers[type] : undefined;
  }

  /**
   * Claim → handler → complete. A failed handler gives its claim up so that the retried copy can take it
   * at once; so does a failed `complete` (the effect is stored, and the handlers are state-guarded, so
   * the copy that runs again changes nothing).
   */
  private async runOnce(event: AnyEvent, handler: AnyHandler): Promise<'handled' | 'done' | 'busy'> {
    const inbox = this.subscription.inbox;
    if (!inbox) {
      await handler(event);
      faultPoint('consumer.after-effect-before-ack');
      return 'handled';
    }
    const claim = await inbox.claim(event.id, event.type);
    if (claim !== 'claimed') return claim;
    try {
      await handler(event);
      // Effect stored, claim neither completed nor released: the redelivered copy waits out the lease,
      // takes the claim over and runs the handler again, whose state guards must make it a no-op.
      faultPoint('consumer.after-effect-before-ack');
      await inbox.complete(event.id);
      return 'handled';
    } catch (error) {
      await inbox
        .release(event.id)
        .catch((releaseError: Error) => this.context.logger.warn('claim not released; it lapses with its lease', { event_id: event.id, error: releaseError.message }));
      throw error;
    }
  }

  private async retryOrPark(channel: Channel, message: ConsumeMessage, event: AnyEvent, attempt: number, reason: string): Promise<void> {
    const next = afterFailure(this.context.retry, this.names, attempt);
    if (next.dead) {
      this.context.logger.error('event handling failed after retries; dead-lettered', { event_id: event.id, type: event.type, error: reason });
      await this.park(channel, message, event.type, attempt, reason);
      return;
    }
    this.context.logger.warn('event handling failed; will retry', { event_id: event.id, type: event.type, attempt: next.attempt, error: reason });
    await this.context.moveTo({ exchange: this.names.moves, queue: next.queue }, message, next.attempt, reason);
    channel.ack(message);
    this.observe(event.type, 'retried', message);
  }

  /** To the dead-letter queue, with the reason in `x-last-error`. */
  private async park(channel: Channel, message: ConsumeMessage, type: string, attempt: number, reason: string, outcome: ConsumeOutcome = 'dead_lettered'): Promise<void> {
    await this.context.moveTo({ exchange: this.names.moves, queue: this.names.dead }, message, attempt, reason);
    channel.ack(message);
    this.observe(type, outcome, message);
  }

  private observe(type: string, outcome: ConsumeOutcome, message: ConsumeMessage): void {
    this.context.observer().onConsumed?.(type, outcome, message.fields.redelivered);
  }
}
