import path from 'node:path';
import mongoose, { type Connection } from 'mongoose';
import { createEvent, type EventEnvelope } from '@pay/contracts';
import { ensureIndexes } from '@pay/db';
import { createLogger } from '@pay/logger';
import { OutboxRelay } from '@pay/outbox';
import { placeOrder } from '../src/domain/order-use-cases';
import { orderModel, type OrderModel } from '../src/data-access/order-model';
import { OrderRepository } from '../src/data-access/order-repository';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';
import { runWorkerProcess } from '../../../test/support/worker-processes';
import type { MarkPaidInput } from './support/mark-paid-worker';

const WORKER = path.join(__dirname, 'support', 'mark-paid-worker.ts');

/**
 * Two order-service processes handle the same payment.succeeded for the same orders at the same instant
 * (a redelivery racing the first delivery, on two replicas): each order becomes paid once, with one
 * order.paid and one version step.
 */
describe('two replicas marking the same orders paid (real database, two processes)', () => {
  let connection: Connection;
  let model: OrderModel;
  let relay: OutboxRelay;
  let store: OrderRepository;
  let dbName: string;

  beforeAll(async () => {
    dbName = isolatedPrefix('orderrace');
    connection = await mongoose.createConnection(testMongoUrl(), { dbName, maxPoolSize: 5 }).asPromise();
    model = orderModel(connection);
    relay = new OutboxRelay({ models: [], publisher: { publish: () => Promise.reject(new Error('no broker in this test')) }, logger: createLogger('race', 'error') });
    store = new OrderRepository(model, relay);
    await ensureIndexes(connection);
  });

  afterAll(async () => {
    await relay.stop();
    await connection.dropDatabase();
    await connection.close();
  });

  it('marks each order paid exactly once and emits order.paid once', async () => {
    const tea = { id: 'tea', name: 'Tea', unitPriceMinor: 4950, currency: 'CNY', active: true, createdAt: new Date(), updatedAt: new Date() };
    const shop = { orders: store, catalog: { findByIds: async () => [tea] } };
    const request = { items: [{ productId: 'tea', quantity: 2, unitPriceMinor: null }], currency: null };
    const orders = await Promise.all(Array.from({ length: 30 }, () => placeOrder(shop, 'alice', request, { producer: 'test' })));
    const events = orders.map((order) =>
      createEvent(
        'payment.succeeded',
        { paymentId: `pay-${order.id}`, orderId: order.id, userId: 'alice', amountMinor: 9900, currency: 'CNY', transactionId: 't', provider: 'mock', actor: 'provider:mock' },
        { producer: 'payment-service' },
      ),
    );
    const input: MarkPaidInput = { mongoUrl: testMongoUrl(), dbName, startAt: Date.now() + 4000, events };
    const [first, second] = await Promise.all([runWorkerProcess<string[]>(WORKER, input), runWorkerProcess<string[]>(WORKER, input)]);
    for (const [index, order] of orders.entries()) {
      expect([first[index], second[index]].sort()).toEqual(['already_paid', 'paid']);
      const document = (await model.collection.findOne({ _id: order.id as never }))!;
      const paidEvents = Object.values(document.outbox as Record<string, EventEnvelope>).filter((event) => event.type === 'order.paid');
      expect(document).toMatchObject({ status: 'paid', payment_id: `pay-${order.id}`, version: 2 });
      expect(paidEvents).toHaveLength(1);
      expect(document.history.filter((entry: { to: string }) => entry.to === 'paid')).toHaveLength(1);
    }
  }, 120_000);
});
