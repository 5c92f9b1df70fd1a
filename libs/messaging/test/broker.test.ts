import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { createEvent, type AnyEvent } from '@pay/contracts';
import { createLogger } from '@pay/logger';
import { Broker, BrokerUnavailable, exchangeName, queueNames, type Inbox } from '../src';
import { deleteBrokerTopology } from '../../../test/support/broker-cleanup';
import { isolatedPrefix, testAmqpUrl } from '../../../test/support/isolation';
import { eventually } from '../../../test/support/stack';

const logger = createLogger('broker-test', 'error');

function orderCreated(orderId = randomUUID()) {
  return createEvent('order.created', { orderId, orderNumber: 'ORD-1', userId: 'u1', amountMinor: 9900, currency: 'CNY' }, { producer: 'test' });
}

function memoryInbox(): Inbox & { ids: Set<string> } {
  const ids = new Set<string>();
  return { ids, seen: async (id) => ids.has(id), record: async (id) => void ids.add(id) };
}

const retryDelaysMs = [50, 150];

describe('Broker (real RabbitMQ)', () => {
  let prefix: string;
  let broker: Broker;

  beforeEach(async () => {
    prefix = isolatedPrefix('broker');
    broker = new Broker({ url: testAmqpUrl(), prefix, service: 'test', logger, retryDelaysMs, maxRetries: 3, reconnectDelayMs: 200 });
    await broker.start();
  });

  afterEach(async () => {
    await broker.close();
    await deleteBrokerTopology(testAmqpUrl(), prefix, retryDelaysMs);
  });

  it('delivers a confirmed event to the bound consumer, validated', async () => {
    const received: AnyEvent[] = [];
    await broker.consume('payment-service', async (event) => void received.push(event));
    const event = orderCreated();
    await broker.publish(event);
    await eventually('delivery', async () => received.length === 1);
    expect(received[0]).toEqual(event);
  });

  it('keeps a published event in the durable queue until a consumer comes', async () => {
    const event = orderCreated();
    await broker.publish(event);
    const connection = await amqp.connect(testAmqpUrl());
    const channel = await connection.createChannel();
    const message = await eventually('message in queue', async () => (await channel.get(queueNames(prefix, 'payment-service').main)) || undefined);
    expect(message.properties.deliveryMode).toBe(2); // persistent
    expect(JSON.parse(message.content.toString()).id).toBe(event.id);
    await connection.close();
  });

  it('retries a failing handler with growing delays a bounded number of times, then dead-letters the message', async () => {
    let attempts = 0;
    const at: number[] = [];
    await broker.consume('payment-service', async () => {
      attempts++;
      at.push(Date.now());
      throw new Error('database down');
    });
    const event = orderCreated();
    await broker.publish(event);
    const dead = await eventually('dead letter', async () => {
      const messages = await broker.drainDeadLetters('payment-service');
      return messages.length > 0 ? messages : undefined;
    });
    expect(attempts).toBe(4); // first try + 3 retries
    // Retries 1, 2, 3 wait in the 50 ms, 150 ms, 150 ms queues (the last step repeats).
    const gaps = at.slice(1).map((time, i) => time - at[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(45);
    expect(gaps[1]).toBeGreaterThanOrEqual(140);
    expect(gaps[2]).toBeGreaterThanOrEqual(140);
    expect((dead[0]?.content as { id: string }).id).toBe(event.id);
    expect(dead[0]?.headers['x-last-error']).toBe('database down');
  });

  it('reports how many messages wait in a consumer\'s queues', async () => {
    await broker.publish(orderCreated());
    await broker.publish(orderCreated());
    await eventually('two waiting', async () => (await broker.queueDepths('payment-service')).main === 2);
    expect(await broker.queueDepths('payment-service')).toEqual({ main: 2, retry: 0, dead: 0 });
  });

  it('replays dead letters onto the queue once the cause is fixed, with a fresh retry budget', async () => {
    let healthy = false;
    const handled: string[] = [];
    await broker.consume('payment-service', async (event) => {
      if (!healthy) throw new Error('database down');
      handled.push(event.id);
    });
    const event = orderCreated();
    await broker.publish(event);
    await eventually('dead-lettered', async () => (await broker.queueDepths('payment-service')).dead === 1, 10_000);
    healthy = true;
    expect(await broker.replayDeadLetters('payment-service')).toBe(1);
    await eventually('handled after replay', async () => handled.includes(event.id));
    expect(await broker.queueDepths('payment-service')).toEqual({ main: 0, retry: 0, dead: 0 });
  });

  it('dead-letters a message that is not a valid event without calling the handler', async () => {
    const handler = jest.fn();
    await broker.consume('payment-service', handler);
    const connection = await amqp.connect(testAmqpUrl());
    const channel = await connection.createConfirmChannel();
    channel.publish(exchangeName(prefix), 'order.created', Buffer.from('{"id":"nope"}'));
    await channel.waitForConfirms();
    await connection.close();
    const dead = await eventually('dead letter', async () => {
      const messages = await broker.drainDeadLetters('payment-service');
      return messages.length > 0 ? messages : undefined;
    });
    expect(dead[0]?.content).toEqual({ id: 'nope' });
    expect(handler).not.toHaveBeenCalled();
  });

  it('applies a duplicate delivery of the same event once (idempotent by event id)', async () => {
    const inbox = memoryInbox();
    const handled: string[] = [];
    await broker.consume('payment-service', async (event) => void handled.push(event.id), { inbox });
    const event = orderCreated();
    await broker.publish(event);
    await broker.publish(event);
    await eventually('both deliveries processed', async () => inbox.ids.has(event.id) && handled.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(handled).toEqual([event.id]);
  });

  it('refuses to publish while disconnected, so the caller keeps the event', async () => {
    await broker.close();
    await expect(broker.publish(orderCreated())).rejects.toBeInstanceOf(BrokerUnavailable);
  });

  it('reconnects after losing its connection and resumes consuming', async () => {
    const received: string[] = [];
    await broker.consume('payment-service', async (event) => void received.push(event.id));
    const connection = (broker as unknown as { connection: { close(): Promise<void> } }).connection;
    await connection.close(); // as a broker restart would
    expect(broker.isConnected()).toBe(false);
    await eventually('reconnected', async () => broker.isConnected());
    const event = orderCreated();
    await broker.publish(event);
    await eventually('delivery after reconnect', async () => received.includes(event.id));
  });

  it('names the fix when the broker cannot be reached', async () => {
    const unreachable = new Broker({ url: 'amqp://guest:guest@127.0.0.1:1', prefix, service: 'x', logger });
    await expect(unreachable.start()).rejects.toThrow(/cannot reach RabbitMQ.*start RabbitMQ or set AMQP_URL/);
  });
});
