import { randomUUID } from 'node:crypto';
import mongoose from 'mongoose';
import { createEvent } from '@pay/contracts';
import { createLogger } from '@pay/logger';
import { Broker, declareTopology, defineServiceEvents, deleteBrokerTopology } from '@pay/messaging';
import { timed } from './measure';

const logger = createLogger('bench', 'error');

export interface BrokerLimits {
  publishPerSecond: number;
  consumePerSecond: number;
}

/** The broker alone: persistent messages published with confirms, then consumed with acks (no inbox). */
export async function measureBroker(amqpUrl: string, prefix: string, count: number): Promise<BrokerLimits> {
  // Publishes as the payment service: consumers accept payment.succeeded from its producer only.
  const events = defineServiceEvents({ service: 'payment-service', emits: ['payment.succeeded'], consumes: ['payment.succeeded'] });
  await declareTopology(amqpUrl, prefix, [events]); // the queue exists (and is bound) before anything is published
  const broker = new Broker({ url: amqpUrl, prefix, service: events.service, logger, events });
  await broker.start();
  let received = 0;
  let firstAt = 0;
  let allReceived: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allReceived = resolve));
  const messages = Array.from({ length: count }, () =>
    createEvent('payment.succeeded', { paymentId: 'p', orderId: 'o', userId: 'u', amountMinor: 1, currency: 'CNY', transactionId: null, provider: null, actor: 'bench' }, { producer: 'payment-service' }),
  );
  // Publish everything first (the queue fills), then consume it: two separate rates.
  const [, publishMs] = await timed(() => Promise.all(messages.map((message) => broker.publish(message))));
  await broker.consume(events, {
    'payment.succeeded': async () => {
      if (received === 0) firstAt = performance.now();
      if (++received === count) allReceived();
    },
  });
  await done;
  const consumeMs = performance.now() - firstAt;
  await broker.close();
  await deleteBrokerTopology(amqpUrl, prefix, [events]);
  return { publishPerSecond: count / (publishMs / 1000), consumePerSecond: count / (Math.max(consumeMs, 1) / 1000) };
}

export interface DatabaseLimits {
  collectionSize: number;
  insertPerSecond: number;
  conditionalUpdatePerSecond: number;
}

/**
 * The raw database at a stated collection size: single-document inserts, and conditional
 * findOneAndUpdate by `_id` + status (what a state move costs), one client, documents shaped like ours.
 */
export async function measureDatabase(mongoUrl: string, dbName: string, collectionSize: number, operations: number): Promise<DatabaseLimits> {
  const connection = await mongoose.createConnection(mongoUrl, { dbName, maxPoolSize: 2 }).asPromise();
  try {
    const raw = connection.db!.collection<Record<string, unknown> & { _id: string }>('raw_baseline');
    await prefill(collectionSize, (batch) => raw.insertMany(Array.from({ length: batch }, (_, i) => syntheticDocument(i))));
    const ids: string[] = [];
    const [, insertMs] = await timed(async () => {
      for (let i = 0; i < operations; i++) {
        const document = syntheticDocument(i);
        await raw.insertOne(document);
        ids.push(document._id as string);
      }
    });
    const [, updateMs] = await timed(async () => {
      for (const id of ids) await raw.findOneAndUpdate({ _id: id as never, status: 'init' }, { $set: { status: 'processing' }, $inc: { version: 1 } } as never);
    });
    return { collectionSize, insertPerSecond: operations / (insertMs / 1000), conditionalUpdatePerSecond: operations / (updateMs / 1000) };
  } finally {
    await connection.dropDatabase();
    await connection.close();
  }
}

function syntheticDocument(i: number): Record<string, unknown> & { _id: string } {
  return {
    _id: randomUUID(),
    order_id: randomUUID(),
    user_id: `u${i % 100}`,
    amount_minor: 9900,
    currency: 'CNY',
    status: 'init',
    version: 1,
    created_at: new Date(),
    logs: [{ at: new Date(), event: 'created', from: null, to: 'init', actor: 'bench', detail: null }],
  };
}

/** Inserts `size` documents in batches (insertMany), printing progress for large sizes. */
export async function prefill(size: number, insertBatch: (batch: number) => Promise<unknown>): Promise<void> {
  const BATCH = 1000;
  for (let done = 0; done < size; done += BATCH) {
    await insertBatch(Math.min(BATCH, size - done));
    if (size >= 20_000 && (done / BATCH) % 10 === 0) process.stdout.write(`  prefill ${done}/${size}\r`);
  }
}
