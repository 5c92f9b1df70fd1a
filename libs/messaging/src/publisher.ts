import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { EventEnvelope } from '@pay/contracts';
import { BrokerUnavailable } from './errors';
import { PRODUCER_USER_HEADER, publishingUser } from './producer-check';
import { ATTEMPT_HEADER, LAST_ERROR_HEADER } from './retry-policy';

/**
 * Puts messages on the broker over one confirm channel and resolves only once the broker has taken
 * responsibility for them (persisted, and for events routed to at least one queue). Every message carries
 * `user_id` = the connection's login: RabbitMQ refuses a different one, so consumers can trust it as the
 * proof of who published (producer-check.ts).
 */
/**
 * How long a publish waits for the broker's confirm. A confirm that never comes (a connection that died
 * half-open) must not hold the caller forever: it fails as "not confirmed", the caller keeps the event
 * and sends it again (consumers de-duplicate by event id).
 */
export const CONFIRM_TIMEOUT_MS = 30_000;

export class Publisher {
  /** Ids of messages the broker returned as unroutable; a `return` arrives before the confirm of the same message. */
  private readonly returned = new Set<string>();
  /**
   * Every publish still waiting for its confirm. amqplib (0.10) never calls the confirm callbacks of a
   * channel that closes, so the waits are failed here when it does: a publish in flight during a broker
   * restart rejects instead of hanging (which held a consumer's only prefetched message forever).
   */
  private readonly waiting = new Set<(error: Error) => void>();

  constructor(
    private readonly channel: ConfirmChannel,
    private readonly exchange: string,
    /** The broker user of the connection (producer-check.ts brokerUser). */
    private readonly login: string,
  ) {
    channel.on('return', (message: ConsumeMessage) => {
      if (message.properties.messageId) this.returned.add(message.properties.messageId);
    });
    const failAll = () => {
      for (const fail of [...this.waiting]) fail(new BrokerUnavailable('the channel closed before the broker confirmed'));
    };
    channel.on('close', failAll);
    channel.on('error', failAll);
  }

  /** Rejects when nacked or unroutable (no queue bound for the type): the caller keeps the event. */
  async publish(event: EventEnvelope): Promise<void> {
    const body = Buffer.from(JSON.stringify(event));
    await this.confirmed(`${event.type} ${event.id}`, event.id, `no queue is bound for ${event.type}`, (callback) =>
      this.channel.publish(
        this.exchange,
        event.type,
        body,
        {
          persistent: true,
          mandatory: true,
          contentType: 'application/json',
          messageId: event.id,
          userId: this.login,
          type: event.type,
          correlationId: event.correlation_id,
          timestamp: Math.floor(Date.parse(event.occurred_at) / 1000),
          headers: { [ATTEMPT_HEADER]: 0 },
        },
        callback,
      ),
    );
  }

  /**
   * Moves a consumed message to one of a consumer's queues (a delay queue, the dead-letter queue, or back
   * to the main queue on replay) through that consumer's moves exchange, stamped with its attempt count
   * and why it moved; confirmed (and routed) before the caller acks the original. The copy is published
   * under our own user_id (RabbitMQ refuses the original's), so the original publisher's user goes into
   * PRODUCER_USER_HEADER, which consumers trust only on a message under their own login.
   */
  async moveTo(target: { exchange: string; queue: string }, message: Pick<ConsumeMessage, 'content' | 'properties'>, attempt: number, reason: string): Promise<void> {
    const messageId = typeof message.properties.messageId === 'string' ? message.properties.messageId : undefined;
    await this.confirmed(`message for ${target.queue}`, messageId, `${target.exchange} routes nothing to ${target.queue}`, (callback) =>
      this.channel.publish(
        target.exchange,
        target.queue,
        message.content,
        {
          ...message.properties,
          userId: this.login,
          persistent: true,
          mandatory: true,
          headers: {
            ...message.properties.headers,
            [ATTEMPT_HEADER]: attempt,
            [LAST_ERROR_HEADER]: reason.slice(0, 500),
            [PRODUCER_USER_HEADER]: publishingUser(message, this.login) ?? '',
          },
        },
        callback,
      ),
    );
  }

  /**
   * Sends with `send` and resolves on the broker's ack; rejects (BrokerUnavailable) on a nack, on a
   * `return` of the message (`messageId`: unroutable), when the channel closes first, or after
   * CONFIRM_TIMEOUT_MS.
   */
  private confirmed(what: string, messageId: string | undefined, unroutable: string, send: (callback: (error: unknown) => void) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const settle = (error: Error | null) => {
        if (!this.waiting.delete(fail)) return; // settled already
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const fail = (error: Error) => settle(error);
      this.waiting.add(fail);
      const timer = setTimeout(() => settle(new BrokerUnavailable(`no confirm of ${what} within ${CONFIRM_TIMEOUT_MS} ms`)), CONFIRM_TIMEOUT_MS);
      try {
        // Back-pressure: the confirm callback is the signal waited for, not publish's return value.
        send((error: unknown) => {
          if (error) return settle(new BrokerUnavailable(`broker refused ${what}`));
          if (messageId && this.returned.delete(messageId)) return settle(new BrokerUnavailable(unroutable));
          settle(null);
        });
      } catch (error) {
        settle(new BrokerUnavailable(`could not send ${what}: ${(error as Error).message}`));
      }
    });
  }
}
