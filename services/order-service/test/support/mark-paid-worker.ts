/**
 * A second order-service for the replica race test: its own process and connection, the real
 * repository; at the agreed instant it applies every payment.succeeded it was given, all at once.
 */
import mongoose from 'mongoose';
import type { EventEnvelope } from '@pay/contracts';
import { createLogger } from '@pay/logger';
import { OutboxRelay } from '@pay/outbox';
import { markOrderPaid } from '../../src/domain/order-use-cases';
import { orderModel } from '../../src/data-access/order-model';
import { OrderRepository } from '../../src/data-access/order-repository';
import { runAsWorker, waitUntil } from '../../../../test/support/worker-processes';

export interface MarkPaidInput {
  mongoUrl: string;
  dbName: string;
  startAt: number;
  events: EventEnvelope<'payment.succeeded'>[];
}

runAsWorker(async (input: MarkPaidInput) => {
  const logger = createLogger('mark-paid-worker', 'error');
  const connection = await mongoose.createConnection(input.mongoUrl, { dbName: input.dbName, maxPoolSize: 4 }).asPromise();
  const relay = new OutboxRelay({ models: [], publisher: { publish: () => Promise.reject(new Error('no broker in this test')) }, logger });
  const store = new OrderRepository(orderModel(connection), relay);
  await waitUntil(input.startAt);
  const outcomes = await Promise.all(input.events.map((event) => markOrderPaid(store, event, logger).catch((error: Error) => `error:${error.message}`)));
  await relay.stop();
  await connection.close();
  return outcomes;
});
