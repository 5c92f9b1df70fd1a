import { createEvent } from '@pay/contracts';
import { createLogger } from '@pay/logger';
import { Broker, declareTopology, defineServiceEvents } from '../src';
import { CONNECT_RETRY_FIRST_MS, CONNECT_RETRY_MAX_MS } from '../src/connection';
import { deleteBrokerTopology } from '../../../test/support/broker-cleanup';
import { startBrokerProxy, type BrokerProxy } from '../../../test/support/broker-proxy';
import { isolatedPrefix, testAmqpUrl } from '../../../test/support/isolation';

const logger = createLogger('connection-test', 'error');
/** Stands in for the order service, the producer of order.created. */
const events = defineServiceEvents({ service: 'order-service', emits: ['order.created'], consumes: [] });
/** A queue bound to what the test publishes, so a publish is routable (and confirmed). */
const sink = defineServiceEvents({ service: 'connection-test-sink', emits: [], consumes: ['order.created'] });
const retryDelaysMs = [50];

describe('broker start-up while RabbitMQ is not reachable yet (real RabbitMQ behind a proxy)', () => {
  let prefix: string;
  let proxy: BrokerProxy;
  const brokers: Broker[] = [];
  let warnings: jest.SpyInstance;

  beforeEach(async () => {
    prefix = isolatedPrefix('connect');
    proxy = await startBrokerProxy(testAmqpUrl());
    await proxy.stop(); // its port is known, and nothing listens on it yet
    warnings = jest.spyOn(logger, 'warn');
  });

  afterEach(async () => {
    warnings.mockRestore();
    for (const broker of brokers.splice(0)) await broker.close();
    await proxy.close();
    await deleteBrokerTopology(testAmqpUrl(), prefix, retryDelaysMs, [events, sink]);
  });

  const brokerVia = (url: string, connectTimeoutMs?: number) => {
    const broker = new Broker({ url, prefix, service: events.service, events, logger, retryDelaysMs, ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }) });
    brokers.push(broker);
    return broker;
  };
  const failedAttempts = () => warnings.mock.calls.filter(([message]) => message === 'broker not reachable yet; retrying');

  it('keeps retrying with back-off and starts once the broker can be reached (about a second later)', async () => {
    const broker = brokerVia(proxy.url); // the default timeout: 60 s
    const started = Date.now();
    const starting = broker.start();
    setTimeout(() => void proxy.start(), 1000);
    await expect(starting).resolves.toBeUndefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(broker.isConnected()).toBe(true);
    // 0.5 s, then 1 s: the listener comes up during the second pause; each failure is logged once, at warn.
    const failures = failedAttempts();
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(failures.length).toBeLessThanOrEqual(3);
    expect(failures.map(([, meta]) => (meta as { attempt: number }).attempt)).toEqual(failures.map((_call, index) => index + 1));
    expect(failures.map(([, meta]) => (meta as { retry_in_ms: number }).retry_in_ms).slice(0, 2)).toEqual([CONNECT_RETRY_FIRST_MS, CONNECT_RETRY_FIRST_MS * 2]);

    await declareTopology(testAmqpUrl(), prefix, [sink], retryDelaysMs);
    const event = createEvent('order.created', { orderId: 'o-1', orderNumber: 'ORD-1', userId: 'u1', amountMinor: 1, currency: 'CNY' }, { producer: 'order-service' });
    await expect(broker.publish(event)).resolves.toBeUndefined();
  });

  it('fails after BROKER_CONNECT_TIMEOUT_MS with a message naming the address, the attempts and the fix', async () => {
    const broker = brokerVia(proxy.url, 1800);
    const started = Date.now();
    const error = (await broker.start().then(
      () => null,
      (failure: Error) => failure,
    )) as Error;
    const elapsed = Date.now() - started;
    expect(error.message).toMatch(
      new RegExp(`^cannot reach RabbitMQ at amqp://[^ ]*127\\.0\\.0\\.1:${proxy.port}[^ ]* after \\d+ attempts in \\d+ s \\(BROKER_CONNECT_TIMEOUT_MS=1800\\) \\(.+\\); start RabbitMQ or set AMQP_URL$`),
    );
    expect(error.message).not.toContain(':guest@'); // the password is redacted
    expect(elapsed).toBeGreaterThanOrEqual(1800);
    expect(elapsed).toBeLessThan(1800 + CONNECT_RETRY_MAX_MS);
    // 0.5 + 1 + the rest of the 1.8 s: three failures retried, the fourth final.
    expect(failedAttempts()).toHaveLength(3);
    expect(broker.isConnected()).toBe(false);
  });

  it('does not retry a refusal that no retry mends (wrong credentials)', async () => {
    const wrong = new URL(testAmqpUrl());
    wrong.username = 'nobody';
    wrong.password = 'wrong';
    const broker = brokerVia(wrong.toString(), 30_000);
    const started = Date.now();
    await expect(broker.start()).rejects.toThrow(/cannot reach RabbitMQ .*ACCESS[-_]REFUSED.*start RabbitMQ or set AMQP_URL/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(failedAttempts()).toHaveLength(0);
  });
});
