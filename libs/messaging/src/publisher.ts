import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { EventEnvelope } from '@pay/contracts';
import { BrokerUnavailable } from './errors';
import { ATTEMPT_HEADER, LAST_ERROR_HEADER } from './retry-policy';

/**
 * Puts messages on the broker over one confirm channel and resolves only once the broker has taken
 * responsibility for them (persisted, and for events routed to at least one queue).
 */
export class Publisher {
  /** Ids of messages the broker returned as unroutable; a `return` arrives before the confirm of the same message. */
  private readonly returned = new Set<string>();

  constructor(
    private readonly channel: ConfirmChannel,
    private readonly exchange: string,
  ) {
    channel.on('return', (message: ConsumeMessage) => {
      if (message.properties.messageId) this.returned.add(message.properties.messageId);
    });
  }

  /** Rejects when nacked or unroutable (no queue bound for the type): the caller keeps the event. */
  async publish(event: EventEnvelope): Promise<void> {
    const body = Buffer.from(JSON.stringify(event));
    await new Promise<void>((resolve, reject) => {
      const accepted = this.channel.publish(
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
          if (this.returned.delete(event.id)) return reject(new BrokerUnavailable(`no queue is bound for ${event.type}`));
          resolve();
        },
      );
      void accepted; // back-pressure: the confirm callback is the signal we wait for
    }).catch((error: unknown) => {
      throw error instanceof BrokerUnavailable ? error : new BrokerUnavailable(String(error));
    });
  }

  /**
   * Moves a consumed message to a queue (a delay queue, the dead-letter queue, or back to the main queue
   * on replay), stamped with its attempt count and why it moved; confirmed before the caller acks the original.
   */
  async moveTo(queue: string, message: Pick<ConsumeMessage, 'content' | 'properties'>, attempt: number, reason: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.channel.sendToQueue(
        queue,
        message.content,
        {
          ...message.properties,
          persistent: true,
          headers: { ...message.properties.headers, [ATTEMPT_HEADER]: attempt, [LAST_ERROR_HEADER]: reason.slice(0, 500) },
        },
        (error: unknown) => (error ? reject(new BrokerUnavailable(`broker refused message for ${queue}`)) : resolve()),
      );
    });
  }
}
