import { randomUUID } from 'node:crypto';
import mongoose, { type Connection } from 'mongoose';
import type { EventEnvelope, Identity } from '@pay/contracts';
import { bumpVersion, ensureIndexes, writeWithRetry } from '@pay/db';
import type { Logger } from '@pay/logger';
import { OutboxRelay } from '@pay/outbox';
import { KnownOrdersRepository } from '../../src/data-access/known-orders-repository';
import { paymentModel, type PaymentModel } from '../../src/data-access/payment-model';
import { PaymentRepository } from '../../src/data-access/payment-repository';
import { createPaymentForOrder } from '../../src/domain/create-payment';
import type { KnownOrders } from '../../src/domain/known-orders';
import { startAtProvider, type ProviderCalls } from '../../src/domain/pay-at-provider';
import type { Payment } from '../../src/domain/payment';
import { processPaymentSuccess } from '../../src/domain/process-success';
import type { PaymentStore } from '../../src/domain/payment-store';
import { isolatedPrefix, testMongoUrl } from '../../../../test/support/isolation';
import { storedEventTypes } from '../../../../test/support/stored-events';
import { InMemoryKnownOrders, InMemoryPaymentStore } from './in-memory-payment-store';

/** The use cases against one implementation of their storage ports. */
export interface Kit {
  store: PaymentStore;
  orders: KnownOrders;
  /** Types of the events stored for the payment, in the order they were stored. */
  eventTypes(paymentId: string): Promise<string[]>;
  makeOverdue(paymentId: string): Promise<void>;
  statusesForOrder(orderId: string): Promise<string[]>;
  close(): Promise<void>;
}

export function inMemoryKit(): Kit {
  const store = new InMemoryPaymentStore();
  return {
    store,
    orders: new InMemoryKnownOrders(),
    eventTypes: async (paymentId) => store.events.filter((event) => (event.data as { paymentId?: string }).paymentId === paymentId).map((event) => event.type),
    makeOverdue: async (paymentId) => store.setExpiresAt(paymentId, new Date(Date.now() - 1000)),
    statusesForOrder: async (orderId) => (await store.list({ orderId }, 1, 100)).items.map((payment) => payment.status),
    close: async () => undefined,
  };
}

/** The repository on the real database, its outbox relay publishing to a recorder; `model` for what only a database has. */
export async function databaseKit(logger: Logger): Promise<Kit & { model: PaymentModel }> {
  const connection: Connection = await mongoose.createConnection(testMongoUrl(), { dbName: isolatedPrefix('payments'), maxPoolSize: 10 }).asPromise();
  const model = paymentModel(connection);
  const published: EventEnvelope[] = [];
  const relay = new OutboxRelay({ models: [model], publisher: { publish: async (event) => void published.push(event) }, logger });
  const store = new PaymentRepository(model, relay);
  const orders = new KnownOrdersRepository(connection);
  await ensureIndexes(connection);
  return {
    model,
    store,
    orders,
    eventTypes: (paymentId) => storedEventTypes(model, paymentId, published, (event) => (event.data as { paymentId?: string }).paymentId === paymentId),
    async makeOverdue(paymentId) {
      // A write like any other to a versioned document: it bumps the version, and runs again if the relay's
      // clean-up of the payment's outbox got in first.
      await writeWithRetry(`payments/${paymentId}`, () =>
        model.collection.updateOne({ _id: paymentId as never }, bumpVersion({ $set: { expires_at: new Date(Date.now() - 1000) } })),
      );
    },
    statusesForOrder: async (orderId) => (await model.find({ order_id: orderId }).lean()).map((payment) => payment.status),
    async close() {
      await relay.stop();
      await connection.dropDatabase();
      await connection.close();
    },
  };
}


const alice: Identity = { sub: 'alice', role: 'customer' };
const testOrigin = { producer: 'test' };

/** A wechat payment of 99.00 for a new order of alice's, created (init). */
export async function newWechatPayment(kit: Pick<Kit, 'store' | 'orders'>): Promise<Payment> {
  const orderId = randomUUID();
  await kit.orders.recordCreated({ id: orderId, orderNumber: `ORD-${orderId.slice(0, 6)}`, userId: 'alice', amountMinor: 9900, currency: 'CNY' });
  return createPaymentForOrder(kit.store, kit.orders, { identity: alice, orderId, method: 'wechat' }, { ttlMinutes: 30, orderWaitMs: 0 }, testOrigin);
}

/** A wechat payment of 99.00 opened at the provider (processing). */
export async function startedWechatPayment(kit: Pick<Kit, 'store' | 'orders'>, calls: ProviderCalls): Promise<Payment> {
  const payment = await newWechatPayment(kit);
  await startAtProvider(calls, payment.id, {}, 'customer:alice', testOrigin, alice);
  return payment;
}

/** A wechat payment of 99.00 for a new order of alice's, opened at the provider and paid (its notification applied). */
export async function paidWechatPayment(kit: Pick<Kit, 'store' | 'orders'>, calls: ProviderCalls, transactionId = `wx-${randomUUID().slice(0, 8)}`): Promise<Payment> {
  const payment = await startedWechatPayment(kit, calls);
  await processPaymentSuccess(kit.store, payment.id, { transactionId, provider: 'wechatpay', actor: 'provider:wechatpay', origin: testOrigin }, calls.logger);
  return payment;
}
