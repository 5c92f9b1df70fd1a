import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { createEvent, type AnyEvent } from '@pay/contracts';
import { createLogger } from '@pay/logger';
import { Broker, declareTopology, defineServiceEvents, type Inbox } from '../src';
import { BrokerUnavailable, UndeclaredEvent } from '../src/errors';
import { exchangeName, queueNames } from '../src/topology';
import { deleteBrokerTopology } from '../../../test/support/broker-cleanup';
import { startBrokerProxy } from '../../../test/support/broker-proxy';
import { isolatedPrefix, testAmqpUrl } from '../../../test/support/isolation';
import { eventually } from '../../../test/support/stack';

const logger = createLogger('broker-test', 'error');

/** The service of this test stands in for the order service (the producer of order events), handles only order.created. */
const testEvents = defineServiceEvents({ service: 'order-service', emits: ['order.created', 'order.cancelled'], consumes: ['order.created'] });

function orderCreated(orderId = randomUUID()) {
  return createEvent('order.created', { orderId, orderNumber: 'ORD-1', userId: 'u1', amountMinor: 9900, currency: 'CNY' }, { producer: 'order-service' });
}

function orderCancelled(orderId = randomUUID()) {
  return createEvent('order.cancelled', { orderId, orderNumber: 'ORD-1', userId: 'u1', amountMinor: 9900, currency: 'CNY', reason: 'x' }, { producer: 'order-service' });
}

/** The inbox port in memory: the broker's side of the claim protocol (the database side is tested in @pay/db). */
function memoryInbox(): Inbox & { done: Set<string> } {
  const claimed = new Set<string>();
  const done = new Set<string>();
  return {
    done,
    async claim(id) {
      if (done.has(id)) return 'done';
      if (claimed.has(id)) return 'busy';
      claimed.add(id);
      return 'claimed';
    },
    async complete(id) {
      claimed.delete(id);
      done.add(id);
    },
    async release(id) {
      claimed.delete(id);
    },
  };
}

const retryDelaysMs = [50, 150];

describe('Broker (real RabbitMQ)', () => {
  let prefix: string;
  let broker: Broker;

  beforeEach(async () => {
    prefix = isolatedPrefix('broker');
    // As the harness does before any service starts: every consumer's queue exists before traffic.
    await declareTopology(testAmqpUrl(), prefix, [testEvents], retryDelaysMs);
    broker = new Broker({ url: testAmqpUrl(), prefix, service: testEvents.service, events: testEvents, logger, retryDelaysMs, maxRetries: 3, reconnectDelayMs: 200 });
    await broker.start();
  });

  afterEach(async () => {
    await broker.close();
    await deleteBrokerTopology(testAmqpUrl(), prefix, retryDelaysMs, [testEvents]);
  });

  it('delivers a confirmed event to the bound consumer, validated', async () => {
    const received: AnyEvent[] = [];
    await broker.consume(testEvents, { 'order.created': async (event) => void received.push(event) });
    const event = orderCreated();
    await broker.publish(event);
    await eventually('delivery', async () => received.length === 1);
    expect(received[0]).toEqual(event);
  });

  it('keeps a published event in the durable queue of a declared consumer until it comes', async () => {
    const event = orderCreated();
    await broker.publish(event);
    const connection = await amqp.connect(testAmqpUrl());
    const channel = await connection.createChannel();
    const message = await eventually('message in queue', async () => (await channel.get(queueNames(prefix, testEvents.service, retryDelaysMs).main)) || undefined);
    expect(message.properties.deliveryMode).toBe(2); // persistent
    expect(JSON.parse(message.content.toString()).id).toBe(event.id);
    await connection.close();
  });

  it('binds the queue to exactly the consumed types: a type nobody consumes is refused as unroutable', async () => {
    await broker.consume(testEvents, { 'order.created': async () => undefined });
    await expect(broker.publish(orderCancelled())).rejects.toThrow(new BrokerUnavailable('no queue is bound for order.cancelled'));
  });

  it('refuses to publish an event type the service does not declare it emits', async () => {
    const foreign = createEvent(
      'payment.succeeded',
      { paymentId: 'p', orderId: 'o', userId: 'u', amountMinor: 1, currency: 'CNY', transactionId: null, provider: null, actor: 'test' },
      { producer: 'test' },
    );
    await expect(broker.publish(foreign)).rejects.toBeInstanceOf(UndeclaredEvent);
    expect(await broker.queueDepths(testEvents.service)).toEqual({ main: 0, retry: 0, dead: 0 });
  });

  it('dead-letters an event that reaches the queue without a handler, naming the reason, instead of acking it', async () => {
    const handled: AnyEvent[] = [];
    await broker.consume(testEvents, { 'order.created': async (event) => void handled.push(event) });
    // A binding the declaration does not have, as an older version of the service would have left it.
    const connection = await amqp.connect(testAmqpUrl());
    const channel = await connection.createChannel();
    await channel.bindQueue(queueNames(prefix, testEvents.service, retryDelaysMs).main, exchangeName(prefix), 'order.cancelled');
    await connection.close();
    const stray = orderCancelled();
    await broker.publish(stray);
    const dead = await eventually('dead letter', async () => {
      const messages = await broker.drainDeadLetters(testEvents.service);
      return messages.length > 0 ? messages : undefined;
    });
    expect((dead[0]?.content as { id: string }).id).toBe(stray.id);
    expect(dead[0]?.headers['x-last-error']).toBe('no handler for order.cancelled in order-service');
    expect(handled).toEqual([]);
    expect(await broker.queueDepths(testEvents.service)).toEqual({ main: 0, retry: 0, dead: 0 });
  });

  it('refuses a handler map that misses a consumed type', async () => {
    await expect(broker.consume(testEvents, {} as never)).rejects.toThrow('order-service declares no handler for order.created');
  });

  it('retries a failing handler with growing delays a bounded number of times, then dead-letters the message', async () => {
    let attempts = 0;
    const at: number[] = [];
    await broker.consume(testEvents, {
      'order.created': async () => {
        attempts++;
        at.push(Date.now());
        throw new Error('database down');
      },
    });
    const event = orderCreated();
    await broker.publish(event);
    const dead = await eventually('dead letter', async () => {
      const messages = await broker.drainDeadLetters(testEvents.service);
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

  it('releases the claim of a failed attempt, so that the retried copy runs the handler', async () => {
    const inbox = memoryInbox();
    let calls = 0;
    await broker.consume(
      testEvents,
      {
        'order.created': async () => {
          if (++calls === 1) throw new Error('database down');
        },
      },
      { inbox },
    );
    const event = orderCreated();
    await broker.publish(event);
    await eventually('handled on retry', async () => inbox.done.has(event.id));
    expect(calls).toBe(2);
  });

  it("reports how many messages wait in a consumer's queues", async () => {
    await broker.publish(orderCreated());
    await broker.publish(orderCreated());
    await eventually('two waiting', async () => (await broker.queueDepths(testEvents.service)).main === 2);
    expect(await broker.queueDepths(testEvents.service)).toEqual({ main: 2, retry: 0, dead: 0 });
  });

  it('replays dead letters onto the queue once the cause is fixed, with a fresh retry budget', async () => {
    let healthy = false;
    const handled: string[] = [];
    await broker.consume(testEvents, {
      'order.created': async (event) => {
        if (!healthy) throw new Error('database down');
        handled.push(event.id);
      },
    });
    const event = orderCreated();
    await broker.publish(event);
    await eventually('dead-lettered', async () => (await broker.queueDepths(testEvents.service)).dead === 1, 10_000);
    healthy = true;
    expect(await broker.replayDeadLetters(testEvents.service)).toBe(1);
    await eventually('handled after replay', async () => handled.includes(event.id));
    expect(await broker.queueDepths(testEvents.service)).toEqual({ main: 0, retry: 0, dead: 0 });
  });

  it('dead-letters a message that is not a valid event without calling the handler', async () => {
    const handler = jest.fn();
    await broker.consume(testEvents, { 'order.created': handler });
    const connection = await amqp.connect(testAmqpUrl());
    const channel = await connection.createConfirmChannel();
    channel.publish(exchangeName(prefix), 'order.created', Buffer.from('{"id":"nope"}'));
    await channel.waitForConfirms();
    await connection.close();
    const dead = await eventually('dead letter', async () => {
      const messages = await broker.drainDeadLetters(testEvents.service);
      return messages.length > 0 ? messages : undefined;
    });
    expect(dead[0]?.content).toEqual({ id: 'nope' });
    expect(handler).not.toHaveBeenCalled();
  });

  describe('producer check (the shared development login: only the envelope can be checked)', () => {
    /** Publishes straight to the exchange, as anyone holding a login could, and returns the dead letter. */
    async function deadLetterOf(body: object, userId: string | undefined) {
      const refused: string[] = [];
      broker.observer = { onConsumed: (_type, outcome) => void refused.push(outcome) };
      const handler = jest.fn();
      await broker.consume(testEvents, { 'order.created': handler });
      const connection = await amqp.connect(testAmqpUrl());
      const channel = await connection.createConfirmChannel();
      channel.publish(exchangeName(prefix), 'order.created', Buffer.from(JSON.stringify(body)), { userId, headers: { 'x-attempt': 0 } });
      await channel.waitForConfirms();
      await connection.close();
      const dead = await eventually('dead letter', async () => {
        const messages = await broker.drainDeadLetters(testEvents.service);
        return messages.length > 0 ? messages : undefined;
      });
      expect(handler).not.toHaveBeenCalled();
      expect(refused).toEqual(['refused']);
      return dead[0]!;
    }

    it('dead-letters, warns about and counts an event whose envelope names a producer not entitled to its type', async () => {
      const warnings = jest.spyOn(logger, 'warn');
      const forged = createEvent('order.created', { orderId: 'o', orderNumber: 'ORD-1', userId: 'u1', amountMinor: 1, currency: 'CNY' }, { producer: 'callback-gateway' });
      const dead = await deadLetterOf(forged, 'guest');
      expect((dead.content as { id: string }).id).toBe(forged.id);
      expect(dead.headers['x-last-error']).toBe('unauthorized_producer: order.created must be produced by order-service, the envelope says callback-gateway');
      expect(warnings).toHaveBeenCalledWith('event from an unauthorized producer dead-lettered', expect.objectContaining({ event_id: forged.id, producer: 'callback-gateway' }));
      warnings.mockRestore();
    });

    it('dead-letters an event that no user_id vouches for, whatever its envelope says', async () => {
      const dead = await deadLetterOf(orderCreated(), undefined);
      expect(dead.headers['x-last-error']).toMatch(/^unauthorized_producer: order\.created must be published by broker user order-service, it was published by an unnamed user/);
    });
  });

  it('applies a duplicate delivery of the same event once (idempotent by event id)', async () => {
    const inbox = memoryInbox();
    const handled: string[] = [];
    await broker.consume(testEvents, { 'order.created': async (event) => void handled.push(event.id) }, { inbox });
    const event = orderCreated();
    await broker.publish(event);
    await broker.publish(event);
    await eventually('both deliveries settled', async () => inbox.done.has(event.id) && (await broker.queueDepths(testEvents.service)).main === 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(handled).toEqual([event.id]);
  });

  it('refuses to publish while disconnected, so the caller keeps the event', async () => {
    await broker.close();
    await expect(broker.publish(orderCreated())).rejects.toBeInstanceOf(BrokerUnavailable);
  });

  it('reconnects after losing its connection and resumes consuming', async () => {
    const proxy = await startBrokerProxy(testAmqpUrl());
    const viaProxy = new Broker({ url: proxy.url, prefix, service: testEvents.service, logger, retryDelaysMs, reconnectDelayMs: 200 });
    try {
      await viaProxy.start();
      const received: string[] = [];
      await viaProxy.consume(testEvents, { 'order.created': async (event) => void received.push(event.id) });
      await proxy.stop(); // as a broker restart would
      await eventually('disconnected', async () => !viaProxy.isConnected());
      await proxy.start();
      await eventually('reconnected', async () => viaProxy.isConnected());
      const event = orderCreated();
      await viaProxy.publish(event);
      await eventually('delivery after reconnect', async () => received.includes(event.id));
    } finally {
      await viaProxy.close();
      await proxy.close();
    }
  });

  it('names the fix when the broker cannot be reached', async () => {
    const unreachable = new Broker({ url: 'amqp://guest:guest@127.0.0.1:1', prefix, service: 'x', logger, connectTimeoutMs: 0 });
    await expect(unreachable.start()).rejects.toThrow(/cannot reach RabbitMQ.*start RabbitMQ or set AMQP_URL/);
  });
});
