/**
 * `npm run bench`: throughput and latency figures, never asserted in tests. Each figure states its
 * collection size and is compared with the raw database doing the same kind of operation at that size
 * (FerretDB v1 scans whole collections, so size matters more than anything).
 *
 *   1. payment use cases (create → start → success) vs raw insert + findOneAndUpdate, same collection
 *   2. broker: publish with confirms, consume with acks (one channel)
 *   3. the whole stack over HTTP: order → payment → start → signed callback → order paid
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import mongoose from 'mongoose';
import { signToken } from '@pay/auth';
import { createClient } from '@pay/client';
import { createEvent } from '@pay/contracts';
import { ensureIndexes } from '@pay/db';
import { generateDevSecrets, provideInfrastructure, REPO_ROOT, sendProviderCallback, startStack } from '@pay/harness';
import { createLogger } from '@pay/logger';
import { OutboxRelay } from '@pay/outbox';
import { Broker, defineServiceEvents, deleteBrokerTopology } from '@pay/messaging';
import { ALL_SERVICE_EVENTS } from '../libs/harness/src/topology';
import { KnownOrdersRepository } from '../services/payment-service/src/data-access/known-orders-repository';
import { paymentModel } from '../services/payment-service/src/data-access/payment-model';
import { PaymentRepository } from '../services/payment-service/src/data-access/payment-repository';
import { createPaymentForOrder } from '../services/payment-service/src/domain/create-payment';
import { startPayment } from '../services/payment-service/src/domain/payment-moves';
import { processPaymentSuccess } from '../services/payment-service/src/domain/process-success';

const logger = createLogger('bench', 'error');
const SIZE = Number(process.env.BENCH_SIZE ?? 300);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return [value, Number(process.hrtime.bigint() - start) / 1e6];
}

async function benchUseCases(mongoUrl: string, runId: string) {
  const connection = await mongoose.createConnection(mongoUrl, { dbName: `bench_${runId}_payments`, maxPoolSize: 5 }).asPromise();
  const model = paymentModel(connection);
  // The relay publishes nowhere here: this measures the use cases and their writes, not the broker.
  const relay = new OutboxRelay({ models: [], publisher: { publish: async () => undefined }, logger });
  const store = new PaymentRepository(model, relay);
  const orders = new KnownOrdersRepository(connection);
  await ensureIndexes(connection);
  const origin = { producer: 'bench' };
  const [, ms] = await timed(async () => {
    for (let i = 0; i < SIZE; i++) {
      const orderId = randomUUID();
      await orders.recordCreated({ id: orderId, orderNumber: `B-${i}`, userId: 'u', amountMinor: 100, currency: 'CNY' });
      const payment = await createPaymentForOrder(store, orders, { identity: { sub: 'u', role: 'customer' }, orderId, method: 'wechat' }, { ttlMinutes: 30, orderWaitMs: 0 }, origin);
      await startPayment(store, payment.id, 'u', origin);
      await processPaymentSuccess(store, payment.id, { transactionId: 't', provider: 'mock', actor: 'bench', origin }, logger);
    }
  });
  const raw = connection.db!.collection('raw_baseline');
  const [, rawMs] = await timed(async () => {
    for (let i = 0; i < SIZE; i++) {
      const id = randomUUID();
      await raw.insertOne({ _id: id as never, status: 'init', n: i });
      await raw.findOneAndUpdate({ _id: id as never, status: 'init' }, { $set: { status: 'processing' } });
      await raw.findOneAndUpdate({ _id: id as never, status: 'processing' }, { $set: { status: 'succeeded' } });
    }
  });
  await relay.stop();
  await connection.dropDatabase();
  await connection.close();
  return [
    `payments: create+start+succeed, ${SIZE} payments (collection grows 0→${SIZE}): ${(SIZE / (ms / 1000)).toFixed(1)} payments/s`,
    `raw db:   insert+2×findOneAndUpdate, same sizes:                    ${(SIZE / (rawMs / 1000)).toFixed(1)} docs/s`,
  ];
}

async function benchBroker(amqpUrl: string, runId: string) {
  const benchEvents = defineServiceEvents({ service: 'bench', emits: ['payment.succeeded'], consumes: ['payment.succeeded'] });
  const broker = new Broker({ url: amqpUrl, prefix: `bench_${runId}`, service: 'bench', logger });
  await broker.start();
  const count = 2000;
  let received = 0;
  // No inbox: this measures the broker alone (the stack figure below includes the services' inboxes).
  const done = new Promise<void>((resolve) => {
    void broker.consume(benchEvents, {
      'payment.succeeded': async () => {
        if (++received === count) resolve();
      },
    });
  });
  const events = Array.from({ length: count }, () =>
    createEvent('payment.succeeded', { paymentId: 'p', orderId: 'o', userId: 'u', amountMinor: 1, currency: 'CNY', transactionId: null, provider: null, actor: 'bench' }, { producer: 'bench' }),
  );
  const [, publishMs] = await timed(() => Promise.all(events.map((event) => broker.publish(event))));
  const [, drainMs] = await timed(() => done);
  await broker.close();
  await deleteBrokerTopology(amqpUrl, `bench_${runId}`, [benchEvents]);
  return [`broker: ${count} events published with confirms in ${publishMs.toFixed(0)} ms (${(count / (publishMs / 1000)).toFixed(0)}/s); all consumed ${drainMs.toFixed(0)} ms later`];
}

async function benchStack(mongoUrl: string, amqpUrl: string, runId: string) {
  const secrets = generateDevSecrets();
  const stack = await startStack({
    env: { ...process.env, ...secrets.env, MONGO_URL: mongoUrl, AMQP_URL: amqpUrl, BROKER_PREFIX: `bench_${runId}_stack`, DB_PREFIX: `bench_${runId}`, LOG_LEVEL: 'warn' },
    logDir: path.join(REPO_ROOT, '.cache', 'bench-logs', runId),
  });
  try {
    const flows = Number(process.env.BENCH_FLOWS ?? 40);
    const latencies: number[] = [];
    const [, totalMs] = await timed(async () => {
      await Promise.all(
        Array.from({ length: 4 }, async (_, worker) => {
          const client = createClient({ baseUrl: `${stack.gatewayUrl}/api/v1`, token: signToken({ sub: `bench-${worker}`, role: 'customer' }, secrets.session.jwtSecret) });
          for (let i = worker; i < flows; i += 4) {
            const [, ms] = await timed(async () => {
              const order = await client.createOrder({ items: [{ product_id: 'p', name: 'n', unit_price: '1.00', quantity: 1 }] });
              const payment = await client.createPayment({ order_id: order.id });
              await client.startPayment(payment.id);
              await sendProviderCallback(stack.callbackUrl, { provider: 'mock', paymentId: payment.id, amountMinor: 100, status: 'SUCCESS' }, secrets.session);
              while ((await client.getOrder(order.id)).status !== 'paid') await new Promise((resolve) => setTimeout(resolve, 20));
            });
            latencies.push(ms);
          }
        }),
      );
    });
    return [
      `stack: ${flows} full flows (order→payment→start→callback→paid), 4 concurrent clients: ${(flows / (totalMs / 1000)).toFixed(1)} flows/s; ` +
        `latency p50 ${percentile(latencies, 50).toFixed(0)} ms, p95 ${percentile(latencies, 95).toFixed(0)} ms`,
    ];
  } finally {
    await stack.stop();
    await deleteBrokerTopology(amqpUrl, `bench_${runId}_stack`, ALL_SERVICE_EVENTS);
  }
}

async function main() {
  const runId = Date.now().toString(36);
  const infrastructure = await provideInfrastructure({ ferretDatabase: `pay_bench_${runId}`, dropOnStop: true, log: (line) => console.log(line) });
  console.log(`database: ${infrastructure.database}; broker: ${infrastructure.broker}`);
  try {
    for (const line of await benchUseCases(infrastructure.mongoUrl, runId)) console.log(line);
    for (const line of await benchBroker(infrastructure.amqpUrl, runId)) console.log(line);
    for (const line of await benchStack(infrastructure.mongoUrl, infrastructure.amqpUrl, runId)) console.log(line);
  } finally {
    await infrastructure.stop();
  }
}

void main().catch((error) => {
  console.error(error);
  process.exit(1);
});
