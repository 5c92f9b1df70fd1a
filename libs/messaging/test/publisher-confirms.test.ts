import { EventEmitter } from 'node:events';
import type { ConfirmChannel } from 'amqplib';
import { createEvent } from '@pay/contracts';
import { BrokerUnavailable } from '../src/errors';
import { Publisher } from '../src/publisher';

/**
 * A channel whose broker never answers: amqplib (0.10) then never calls a publish's confirm callback,
 * not even when the channel closes. A publish must not wait for ever on it.
 */
class SilentChannel extends EventEmitter {
  published = 0;
  publish(): boolean {
    this.published += 1;
    return true;
  }
}

const event = () => createEvent('order.cancelled', { orderId: 'o1', orderNumber: 'N1', userId: 'u1', amountMinor: 100, currency: 'CNY', reason: 'r' }, { producer: 'order-service' });

describe('Publisher confirms', () => {
  it('fails every publish still waiting for its confirm when the channel closes', async () => {
    const channel = new SilentChannel();
    const publisher = new Publisher(channel as unknown as ConfirmChannel, 'x.events', 'order-service');
    const first = publisher.publish(event());
    const second = publisher.moveTo({ exchange: 'x.moves', queue: 'x.q' }, { content: Buffer.from('{}'), properties: { headers: {} } as never }, 1, 'retry');
    channel.emit('close');
    await expect(first).rejects.toBeInstanceOf(BrokerUnavailable);
    await expect(second).rejects.toThrow(/channel closed before the broker confirmed/);
    expect(channel.published).toBe(2);
  });

  it('fails a publish whose confirm never comes after the confirm timeout', async () => {
    jest.useFakeTimers();
    try {
      const publisher = new Publisher(new SilentChannel() as unknown as ConfirmChannel, 'x.events', 'order-service');
      const waiting = publisher.publish(event());
      jest.advanceTimersByTime(30_001);
      await expect(waiting).rejects.toThrow(/no confirm of order.cancelled/);
    } finally {
      jest.useRealTimers();
    }
  });

  it('fails a publish on a channel that throws (closed already) instead of hanging', async () => {
    const channel = new SilentChannel();
    channel.publish = () => {
      throw new Error('Channel closed');
    };
    const publisher = new Publisher(channel as unknown as ConfirmChannel, 'x.events', 'order-service');
    await expect(publisher.publish(event())).rejects.toThrow(/could not send order.cancelled/);
  });
});
