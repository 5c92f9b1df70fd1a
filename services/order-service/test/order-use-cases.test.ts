import mongoose, { type Connection } from 'mongoose';
import { createEvent, type EventEnvelope } from '@pay/contracts';
import { ensureIndexes } from '@pay/db';
import { IllegalTransition, NotFound } from '@pay/errors';
import { createLogger } from '@pay/logger';
import { OutboxRelay } from '@pay/outbox';
import { backfillIdempotencyKeys, orderModel, type OrderModel } from '../src/data-access/order-model';
import { OrderRepository } from '../src/data-access/order-repository';
import { cancelOrder, markOrderPaid, placeOrder, placeOrderOnce } from '../src/domain/order-use-cases';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';
import { storedEventTypes } from '../../../test/support/stored-events';

const logger = createLogger('order-test', 'error');
const alice = { sub: 'alice', role: 'customer' as const };
const origin = { producer: 'test' };
const items = [{ productId: 'tea', name: 'Tea', unitPriceMinor: 4950, quantity: 2 }];

describe('order use cases (real database)', () => {
  let connection: Connection;
  let model: OrderModel;
  let store: OrderRepository;
  let relay: OutboxRelay;
  const published: EventEnvelope[] = [];

  beforeAll(async () => {
    connection = await mongoose.createConnection(testMongoUrl(), { dbName: isolatedPrefix('orders'), maxPoolSize: 5 }).asPromise();
    model = orderModel(connection);
    relay = new OutboxRelay({ models: [model], publisher: { publish: async (event) => void published.push(event) }, logger });
    store = new OrderRepository(model, relay);
    await ensureIndexes(connection);
  });

  afterAll(async () => {
    await relay.stop();
    await connection.dropDatabase();
    await connection.close();
  });

  const outboxTypes = (orderId: string) => storedEventTypes(model, orderId, published, (event) => (event.data as { orderId?: string }).orderId === orderId);

  function succeeded(orderId: string, paymentId: string, amountMinor = 9900) {
    return createEvent(
      'payment.succeeded',
      { paymentId, orderId, userId: 'alice', amountMinor, currency: 'CNY', transactionId: 'txn', provider: 'mock', actor: 'provider:mock' },
      { producer: 'payment-service' },
    );
  }

  it('places an order with a server-computed total and order.created in the same write', async () => {
    const order = await placeOrder(store, 'alice', items, 'CNY', origin);
    expect(order.totalAmountMinor).toBe(9900);
    expect(await outboxTypes(order.id)).toEqual(['order.created']);
  });

  it('marks the order paid once for a duplicated payment.succeeded (and emits order.paid once)', async () => {
    const order = await placeOrder(store, 'alice', items, 'CNY', origin);
    const event = succeeded(order.id, 'pay-1');
    const outcomes = await Promise.all([markOrderPaid(store, event, logger), markOrderPaid(store, event, logger), markOrderPaid(store, event, logger)]);
    expect(outcomes.sort()).toEqual(['already_paid', 'already_paid', 'paid']);
    expect((await store.get(order.id))!.status).toBe('paid');
    expect((await outboxTypes(order.id)).filter((t) => t === 'order.paid')).toHaveLength(1);
  });

  it('does not regress or double-apply: a different payment for a paid order is reported, not applied', async () => {
    const order = await placeOrder(store, 'alice', items, 'CNY', origin);
    await markOrderPaid(store, succeeded(order.id, 'pay-a'), logger);
    expect(await markOrderPaid(store, succeeded(order.id, 'pay-b'), logger)).toBe('not_payable');
    expect((await store.get(order.id))!.paymentId).toBe('pay-a');
  });

  it('refuses to mark paid with an amount different from the total', async () => {
    const order = await placeOrder(store, 'alice', items, 'CNY', origin);
    expect(await markOrderPaid(store, succeeded(order.id, 'pay-1', 100), logger)).toBe('not_payable');
    expect((await store.get(order.id))!.status).toBe('pending_payment');
  });

  it('cancels only while pending payment, emitting order.cancelled', async () => {
    const order = await placeOrder(store, 'alice', items, 'CNY', origin);
    const cancelled = await cancelOrder(store, order.id, alice, 'changed mind', origin);
    expect(cancelled.status).toBe('cancelled');
    expect(await outboxTypes(order.id)).toContain('order.cancelled');
    await expect(cancelOrder(store, order.id, alice, 'again', origin)).rejects.toBeInstanceOf(IllegalTransition);
    const paid = await placeOrder(store, 'alice', items, 'CNY', origin);
    await markOrderPaid(store, succeeded(paid.id, 'pay-z'), logger);
    await expect(cancelOrder(store, paid.id, alice, 'late', origin)).rejects.toMatchObject({ code: 'illegal_transition' });
  });

  it('places one order per idempotency key, even for concurrent retries, scoped to the customer', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => placeOrderOnce(store, 'alice', items, 'CNY', origin, 'key-12345678')));
    expect(new Set(results.map((result) => result.order.id)).size).toBe(1);
    expect(results.filter((result) => !result.replayed)).toHaveLength(1);
    expect(await model.countDocuments({ user_id: 'alice', idempotency_key: 'alice:key-12345678' })).toBe(1);
    const bob = await placeOrderOnce(store, 'bob', items, 'CNY', origin, 'key-12345678');
    expect(bob.replayed).toBe(false);
    await expect(placeOrderOnce(store, 'alice', [{ ...items[0]!, quantity: 3 }], 'CNY', origin, 'key-12345678')).rejects.toMatchObject({
      code: 'idempotency_key_reused',
    });
  });

  // MongoDB refuses a unique index where two documents lack the field (both count as null); FerretDB
  // does not, so what this proves here is the backfilled values the index then holds.
  it('gives orders stored before idempotency keys their own key, so the unique index can be created', async () => {
    const legacyModel = orderModel(connection.useDb(`${connection.name}_legacy`));
    await legacyModel.collection.insertMany([{ _id: 'old-1' as never, status: 'paid' }, { _id: 'old-2' as never, status: 'pending_payment' }]);
    expect(await backfillIdempotencyKeys(legacyModel)).toBe(2);
    await expect(legacyModel.createIndexes()).resolves.toBeUndefined();
    expect(await legacyModel.collection.findOne({ _id: 'old-2' as never })).toMatchObject({ idempotency_key: 'none:old-2' });
    expect(await backfillIdempotencyKeys(legacyModel)).toBe(0);
    await legacyModel.db.dropDatabase();
  });

  it('hides another customer’s order', async () => {
    const order = await placeOrder(store, 'alice', items, 'CNY', origin);
    await expect(cancelOrder(store, order.id, { sub: 'mallory', role: 'customer' }, 'x', origin)).rejects.toBeInstanceOf(NotFound);
  });
});
