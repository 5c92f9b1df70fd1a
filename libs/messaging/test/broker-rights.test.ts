import { randomBytes } from 'node:crypto';
import amqp, { type ChannelModel } from 'amqplib';
import { createEvent, type AnyEvent } from '@pay/contracts';
import { createLogger } from '@pay/logger';
import { Broker, buildBrokerDefinitions, defineServiceEvents, exchangeName, queueNames } from '../src';
import { deleteBrokerTopology } from '../../../test/support/broker-cleanup';
import { applyBrokerDefinitions } from '../../../test/support/broker-users';
import { isolatedPrefix, testAmqpUrl } from '../../../test/support/isolation';
import { eventually } from '../../../test/support/stack';

const logger = createLogger('broker-rights-test', 'error');
const retryDelaysMs = [100];
/** The three services of this test, each declaring only what the test exchanges (the real ones declare more). */
const orderEvents = defineServiceEvents({ service: 'order-service', emits: [], consumes: ['payment.succeeded'] });
const paymentEvents = defineServiceEvents({ service: 'payment-service', emits: ['payment.succeeded'], consumes: ['callback.verified'] });
const gatewayEvents = defineServiceEvents({ service: 'callback-gateway', emits: ['callback.verified'], consumes: [] });
const services = [orderEvents, paymentEvents, gatewayEvents];

function paymentSucceeded(producer: string): AnyEvent {
  return createEvent(
    'payment.succeeded',
    { paymentId: 'p-1', orderId: 'o-1', userId: 'u-1', amountMinor: 100, currency: 'CNY', transactionId: 't-1', provider: 'mock', actor: 'test' },
    { producer },
  ) as AnyEvent;
}

function callbackVerified(): AnyEvent {
  return createEvent(
    'callback.verified',
    { provider: 'mock', notificationId: 'n-1', paymentId: 'p-1', transactionId: 't-1', outcome: 'success', amountMinor: 100, receivedAt: new Date().toISOString(), verifyMs: 1 },
    { producer: 'callback-gateway' },
  ) as AnyEvent;
}

/**
 * The broker users of the deployment definitions, created for real (per-run names, on a per-run prefix)
 * on the local RabbitMQ: what RabbitMQ itself refuses (topic permissions, user_id validation, no write on
 * the default exchange) and what the consumer refuses on top.
 */
describe('one broker user per service (real RabbitMQ, the generated definitions)', () => {
  const prefix = isolatedPrefix('rights');
  const userOf = (name: string) => `${prefix}.${name}`;
  const passwords: Record<string, string> = {};
  const urlOf = (name: string) => {
    const url = new URL(testAmqpUrl());
    url.username = encodeURIComponent(userOf(name));
    url.password = passwords[name]!;
    return url.toString();
  };
  let users: { deleteUsers(): Promise<void> };
  const connections: ChannelModel[] = [];

  beforeAll(async () => {
    for (const name of [...services.map((events) => events.service), 'operator']) passwords[name] = randomBytes(18).toString('hex');
    const definitions = buildBrokerDefinitions({
      prefix,
      services,
      passwords: { ...passwords, [userOf('operator')]: passwords.operator! },
      operator: { name: userOf('operator') },
      retryDelaysMs,
      userOf,
    });
    users = await applyBrokerDefinitions(definitions);
  });

  afterAll(async () => {
    for (const connection of connections) await connection.close().catch(() => undefined);
    await users?.deleteUsers();
    await deleteBrokerTopology(testAmqpUrl(), prefix, retryDelaysMs);
  });

  async function connectAs(name: string): Promise<ChannelModel> {
    const connection = await amqp.connect(urlOf(name));
    connection.on('error', () => undefined);
    connections.push(connection);
    return connection;
  }

  /** Publishes with confirms as a user on a fresh channel; resolves with the broker's answer. */
  async function publishAs(connection: ChannelModel, exchange: string, routingKey: string, event: AnyEvent, userId: string): Promise<'confirmed' | string> {
    const channel = await connection.createConfirmChannel();
    const closed = new Promise<string>((resolve) => channel.on('error', (error: Error) => resolve(error.message)));
    const published = new Promise<string>((resolve) => {
      channel.publish(exchange, routingKey, Buffer.from(JSON.stringify(event)), { persistent: true, userId, messageId: event.id }, (error: unknown) =>
        resolve(error ? 'nacked' : 'confirmed'),
      );
    });
    const answer = await Promise.race([published, closed]);
    if (answer === 'confirmed') await channel.close();
    return answer;
  }

  it("refuses the callback gateway's user publishing payment.succeeded (topic permission), and lets it publish callback.verified", async () => {
    const gateway = await connectAs('callback-gateway');
    expect(await publishAs(gateway, exchangeName(prefix), 'payment.succeeded', paymentSucceeded('payment-service'), userOf('callback-gateway'))).toMatch(/ACCESS_REFUSED/);
    expect(await publishAs(gateway, exchangeName(prefix), 'callback.verified', callbackVerified(), userOf('callback-gateway'))).toBe('confirmed');
  });

  it('refuses a publish that claims another user_id, and one straight to a queue through the default exchange', async () => {
    const gateway = await connectAs('callback-gateway');
    expect(await publishAs(gateway, exchangeName(prefix), 'callback.verified', callbackVerified(), userOf('payment-service'))).toMatch(/PRECONDITION_FAILED.*user_id/);
    const orderQueue = queueNames(prefix, 'order-service', retryDelaysMs).main;
    expect(await publishAs(gateway, '', orderQueue, paymentSucceeded('payment-service'), userOf('callback-gateway'))).toMatch(/ACCESS_REFUSED/);
  });

  it("lets the payment service's user publish payment.succeeded", async () => {
    const payment = await connectAs('payment-service');
    expect(await publishAs(payment, exchangeName(prefix), 'payment.succeeded', paymentSucceeded('payment-service'), userOf('payment-service'))).toBe('confirmed');
    // Drained here so that the consumer test below starts on an empty queue.
    const channel = await (await connectAs('order-service')).createChannel();
    await eventually('delivered', async () => (await channel.get(queueNames(prefix, 'order-service', retryDelaysMs).main, { noAck: true })) || undefined);
    await channel.close();
  });

  it("dead-letters at the consumer what the broker let through from the wrong producer, and retries the entitled producer's event under its own user", async () => {
    const handled: string[] = [];
    let failures = 0;
    const consumer = new Broker({
      url: urlOf('order-service'),
      prefix,
      service: 'order-service',
      events: orderEvents,
      logger,
      retryDelaysMs,
      maxRetries: 2,
      declareTopology: false, // as deployed: the definitions declared it, the service may only check
      producerUser: userOf,
    });
    await consumer.start();
    try {
      await consumer.consume(orderEvents, {
        'payment.succeeded': async (event) => {
          if (failures++ === 0) throw new Error('first attempt fails');
          handled.push(event.id);
        },
      });
      const payment = await connectAs('payment-service');
      const operator = await connectAs('operator');
      // The payment service's user, but an envelope naming the callback gateway.
      const wrongEnvelope = paymentSucceeded('callback-gateway');
      expect(await publishAs(payment, exchangeName(prefix), 'payment.succeeded', wrongEnvelope, userOf('payment-service'))).toBe('confirmed');
      // A user with every right (the operator) that RabbitMQ lets route payment.succeeded, with a correct-looking envelope.
      const wrongUser = paymentSucceeded('payment-service');
      expect(await publishAs(operator, exchangeName(prefix), 'payment.succeeded', wrongUser, userOf('operator'))).toBe('confirmed');
      // The real thing: handled after one retry through the order service's own moves exchange.
      const genuine = paymentSucceeded('payment-service');
      expect(await publishAs(payment, exchangeName(prefix), 'payment.succeeded', genuine, userOf('payment-service'))).toBe('confirmed');

      await eventually('genuine event handled after its retry', async () => handled.includes(genuine.id));
      expect(handled).toEqual([genuine.id]);
      const dead = await eventually('both refused events dead-lettered', async () => {
        const depths = await consumer.queueDepths('order-service');
        return depths.dead === 2 ? consumer.drainDeadLetters('order-service') : undefined;
      });
      const reasons = Object.fromEntries(dead.map((letter) => [(letter.content as { id: string }).id, letter.headers['x-last-error']]));
      expect(reasons).toEqual({
        [wrongEnvelope.id]: 'unauthorized_producer: payment.succeeded must be produced by payment-service, the envelope says callback-gateway',
        [wrongUser.id]: `unauthorized_producer: payment.succeeded must be published by broker user ${userOf('payment-service')}, it was published by ${userOf('operator')}`,
      });
    } finally {
      await consumer.close();
    }
  });
});
