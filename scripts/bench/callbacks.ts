import { randomUUID } from 'node:crypto';
import path from 'node:path';
import mongoose from 'mongoose';
import { createEvent } from '@pay/contracts';
import { databaseName } from '@pay/db';
import { buildProviderCallback, freePort, sendProviderCallback, startService, type ServiceProcess, type generateDevSecrets } from '@pay/harness';
import { createLogger } from '@pay/logger';
import { Broker, defineServiceEvents, deleteBrokerTopology } from '@pay/messaging';
import { createMockProvider } from '@pay/providers';
import { timed } from './measure';

const logger = createLogger('bench', 'error');

async function inParallel(count: number, concurrency: number, one: (index: number) => Promise<void>): Promise<number> {
  let next = 0;
  const [, ms] = await timed(() =>
    Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) await one(next++);
      }),
    ),
  );
  return count / (ms / 1000);
}

export interface CallbackFigures {
  gatewayPerSecond: number;
  bareLoopPerSecond: number;
}

export interface CallbackBenchSetting {
  amqpUrl: string;
  mongoUrl: string;
  /** The stack's environment (secrets, provider settings); the gateway alone gets its own prefixes. */
  env: NodeJS.ProcessEnv;
  /** Broker and database prefix of this stage alone. */
  prefix: string;
  logDir: string;
  count: number;
  concurrency: number;
}

/** Payments the notifications are about: each notification is a new one (its own id) for one of them. */
const PAYMENTS = 50;

/**
 * The callback gateway alone (verified callbacks/s, each a new notification of a payment it knows)
 * against a bare loop doing the irreducible part of the same work in-process: verify the same kind of
 * signature, publish the verified event with a confirm. Both under the same conditions: an idle machine
 * (a gateway process of its own, on its own database and broker prefix, not the loaded stack), the
 * events going to one queue whose consumer only counts them (as the payment-service, the real consumer).
 */
export async function measureCallbacks(secrets: ReturnType<typeof generateDevSecrets>, setting: CallbackBenchSetting): Promise<CallbackFigures> {
  const { amqpUrl, mongoUrl, prefix, count, concurrency } = setting;
  const consumer = defineServiceEvents({ service: 'payment-service', emits: [], consumes: ['callback.verified'] });
  const publisher = defineServiceEvents({ service: 'callback-gateway', emits: ['callback.verified'], consumes: ['payment.created'] });
  const counter = new Broker({ url: amqpUrl, prefix, service: consumer.service, logger, events: consumer });
  let counted = 0;
  await counter.start();
  await counter.consume(consumer, { 'callback.verified': async () => void counted++ });

  const paymentIds = Array.from({ length: PAYMENTS }, () => randomUUID());
  const database = await mongoose.createConnection(mongoUrl, { dbName: databaseName(prefix, 'callbacks'), maxPoolSize: 2 }).asPromise();
  let gateway: ServiceProcess | null = null;
  try {
    // The gateway's projection of these payments, as payment.created would have left it.
    await database.db!.collection('known_payments').insertMany(paymentIds.map((id) => ({ _id: id as never, amount_minor: 100, currency: 'CNY', method: 'bank_card' })));
    gateway = await startService('callback-gateway', await freePort(), {
      env: { ...setting.env, BROKER_PREFIX: prefix, DB_PREFIX: prefix },
      metricsPort: await freePort(),
      logFile: path.join(setting.logDir, 'callback-gateway-alone.log'),
    });
    const send = async (index: number) => {
      const answer = await sendProviderCallback(gateway!.url, { provider: 'mock', paymentId: paymentIds[index % PAYMENTS]!, amountMinor: 100, status: 'SUCCESS' }, secrets.session);
      if (answer.status !== 200) throw new Error(`callback answered ${answer.status}: ${answer.body}`);
    };
    const warmUp = Math.min(count, 50); // connections, code paths
    await inParallel(warmUp, concurrency, send);
    const gatewayPerSecond = await inParallel(count, concurrency, send);
    await gateway.stop();
    gateway = null;

    const broker = new Broker({ url: amqpUrl, prefix, service: publisher.service, logger, events: publisher });
    await broker.start();
    const provider = createMockProvider({ secret: secrets.session.mockProviderSecret });
    const bareLoopPerSecond = await inParallel(count, concurrency, async (index) => {
      const paymentId = paymentIds[index % PAYMENTS]!;
      const built = buildProviderCallback({ provider: 'mock', paymentId, amountMinor: 100, status: 'SUCCESS', notificationId: `bench-${randomUUID()}` }, secrets.session);
      const verified = provider.verify({ headers: Object.fromEntries(Object.entries(built.headers).map(([k, v]) => [k.toLowerCase(), v])), rawBody: Buffer.from(built.body) }, new Date());
      if (!verified.ok) throw new Error(`bare loop: ${verified.reason}`);
      const n = verified.notification;
      await broker.publish(
        createEvent(
          'callback.verified',
          { provider: 'mock', notificationId: n.notificationId, paymentId: n.paymentId, transactionId: n.transactionId, outcome: n.outcome, amountMinor: n.amountMinor, receivedAt: new Date().toISOString(), verifyMs: 0 },
          { producer: 'callback-gateway' },
        ),
      );
    });
    await broker.close();
    // Every confirmed event of both reached the counting consumer (the warm-up's too).
    const expected = warmUp + 2 * count;
    for (const deadline = Date.now() + 30_000; counted < expected && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 50));
    if (counted < expected) throw new Error(`callback stage: ${counted} of ${expected} confirmed events reached the consumer`);
    return { gatewayPerSecond, bareLoopPerSecond };
  } finally {
    await gateway?.stop();
    await counter.close();
    await database.dropDatabase().catch(() => undefined);
    await database.close();
    await deleteBrokerTopology(amqpUrl, prefix, [consumer, publisher]);
  }
}
