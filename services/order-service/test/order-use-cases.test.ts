import mongoose, { type Connection } from 'mongoose';
import { createEvent, type EventEnvelope } from '@pay/contracts';
import { ensureIndexes } from '@pay/db';
import { IllegalTransition, NotFound } from '@pay/errors';
import { createLogger } from '@pay/logger';
import { OutboxRelay } from '@pay/outbox';
import { backfillIdempotencyKeys, IDEMPOTENCY_INDEX, LEGACY_IDEMPOTENCY_INDEX, migrateIdempotencyKeys, orderModel, type OrderModel } from '../src/data-access/order-model';
import { OrderRepository } from '../src/data-access/order-repository';
import type { OrderStore } from '../src/domain/order-store';
import { cancelOrder, markOrderPaid, placeOrder, placeOrderOnce, recordOrderRefund, type Shop } from '../src/domain/order-use-cases';
import type { OrderRequest } from '../src/domain/pricing';
import type { Product } from '../src/domain/product';
import type { PriceList } from '../src/domain/product-store';
import { InMemoryOrderStore } from './support/in-memory-order-store';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';
import { storedEventTypes } from '../../../test/support/stored-events';

const logger = createLogger('order-test', 'error');
const alice = { sub: 'alice', role: 'customer' as const };
const origin = { producer: 'test' };
const tea: Product = { id: 'tea', name: 'Tea', unitPriceMinor: 4950, currency: 'CNY', active: true, createdAt: new Date(), updatedAt: new Date() };
const catalog: PriceList = { findByIds: async (ids) => [tea].filter((product) => ids.includes(product.id)) };
/** Where the orders of `store` are placed, priced from the one-product catalog. */
const shopOf = (store: OrderStore): Shop => ({ orders: store, catalog });
/** Two teas: 99.00. */
const teaTwice: OrderRequest = { items: [{ productId: 'tea', quantity: 2, unitPriceMinor: null }], currency: null };

function succeeded(orderId: string, paymentId: string, amountMinor = 9900) {
  return createEvent(
    'payment.succeeded',
    { paymentId, orderId, userId: 'alice', amountMinor, currency: 'CNY', transactionId: 'txn', provider: 'mock', actor: 'provider:mock' },
    { producer: 'payment-service' },
  );
}

/** payment.refunded of a 99.00 payment: `refundedMinor` is its total refunded so far. */
function refunded(orderId: string, paymentId: string, refundedMinor: number, options: { fully?: boolean; refundMinor?: number; sequence?: number; paidOrder?: boolean } = {}) {
  return createEvent(
    'payment.refunded',
    {
      paymentId,
      orderId,
      userId: 'alice',
      amountMinor: 9900,
      currency: 'CNY',
      refundId: `${paymentId}r0${options.sequence ?? 1}`,
      refundMinor: options.refundMinor ?? refundedMinor,
      refundedMinor,
      fully: options.fully ?? refundedMinor >= 9900,
      paidOrder: options.paidOrder ?? true,
      reason: 'returned',
      actor: 'admin:ops',
    },
    { producer: 'payment-service' },
  );
}

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

  it('places an order with a server-computed total and order.created in the same write', async () => {
    const order = await placeOrder(shopOf(store), 'alice', teaTwice, origin);
    expect(order.totalAmountMinor).toBe(9900);
    expect(await outboxTypes(order.id)).toEqual(['order.created']);
  });

  it('marks the order paid once for a duplicated payment.succeeded (and emits order.paid once)', async () => {
    const order = await placeOrder(shopOf(store), 'alice', teaTwice, origin);
    const event = succeeded(order.id, 'pay-1');
    const outcomes = await Promise.all([markOrderPaid(store, event, logger), markOrderPaid(store, event, logger), markOrderPaid(store, event, logger)]);
    expect(outcomes.sort()).toEqual(['already_paid', 'already_paid', 'paid']);
    expect((await store.get(order.id))!.status).toBe('paid');
    expect((await outboxTypes(order.id)).filter((t) => t === 'order.paid')).toHaveLength(1);
  });

  it('does not regress or double-apply: a different payment for a paid order is reported, not applied', async () => {
    const order = await placeOrder(shopOf(store), 'alice', teaTwice, origin);
    await markOrderPaid(store, succeeded(order.id, 'pay-a'), logger);
    expect(await markOrderPaid(store, succeeded(order.id, 'pay-b'), logger)).toBe('not_payable');
    expect((await store.get(order.id))!.paymentId).toBe('pay-a');
  });

  it('refuses to mark paid with an amount different from the total', async () => {
    const order = await placeOrder(shopOf(store), 'alice', teaTwice, origin);
    expect(await markOrderPaid(store, succeeded(order.id, 'pay-1', 100), logger)).toBe('not_payable');
    expect((await store.get(order.id))!.status).toBe('pending_payment');
  });

  it('cancels only while pending payment, emitting order.cancelled', async () => {
    const order = await placeOrder(shopOf(store), 'alice', teaTwice, origin);
    const cancelled = await cancelOrder(store, order.id, alice, 'changed mind', origin);
    expect(cancelled.status).toBe('cancelled');
    expect(await outboxTypes(order.id)).toContain('order.cancelled');
    await expect(cancelOrder(store, order.id, alice, 'again', origin)).rejects.toBeInstanceOf(IllegalTransition);
    const paid = await placeOrder(shopOf(store), 'alice', teaTwice, origin);
    await markOrderPaid(store, succeeded(paid.id, 'pay-z'), logger);
    await expect(cancelOrder(store, paid.id, alice, 'late', origin)).rejects.toMatchObject({ code: 'illegal_transition' });
  });

  it('places one order per idempotency key, even for concurrent retries, scoped to the customer', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => placeOrderOnce(shopOf(store), 'alice', teaTwice, origin, 'key-12345678')));
    expect(new Set(results.map((result) => result.order.id)).size).toBe(1);
    expect(results.filter((result) => !result.replayed)).toHaveLength(1);
    expect(await model.countDocuments({ user_id: 'alice', idempotency_key: 'key-12345678' })).toBe(1);
    const bob = await placeOrderOnce(shopOf(store), 'bob', teaTwice, origin, 'key-12345678');
    expect(bob.replayed).toBe(false);
    await expect(placeOrderOnce(shopOf(store), 'alice', { ...teaTwice, items: [{ ...teaTwice.items[0]!, quantity: 3 }] }, origin, 'key-12345678')).rejects.toMatchObject({
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
    // Once the index exists the orders are not read again (at every start, a whole-table read on FerretDB).
    const reads: string[] = [];
    legacyModel.db.set('debug', (collection: string, method: string) => reads.push(`${collection}.${method}`));
    try {
      expect(await backfillIdempotencyKeys(legacyModel)).toBe(0);
    } finally {
      legacyModel.db.set('debug', false);
    }
    expect(reads.filter((read) => read.endsWith('.find'))).toEqual([]);
    await legacyModel.db.dropDatabase();
  });

  it('rewrites `<user>:<key>` values of older orders and drops their key-only unique index', async () => {
    const legacyModel = orderModel(connection.useDb(`${connection.name}_oldkeys`));
    const legacy = (id: string, user: string, key: string, fingerprint: string | null) => ({ _id: id as never, user_id: user, idempotency_key: key, request_fingerprint: fingerprint, version: 1 });
    await legacyModel.collection.insertMany([
      legacy('old-k', 'alice', 'alice:shop:K1-0001', 'f1'),
      legacy('old-n', 'alice', 'none:old-n', null),
    ]);
    await legacyModel.collection.createIndex({ idempotency_key: 1 }, { unique: true, name: LEGACY_IDEMPOTENCY_INDEX });
    expect(await migrateIdempotencyKeys(legacyModel)).toBe(1);
    expect(await legacyModel.collection.findOne({ _id: 'old-k' as never })).toMatchObject({ idempotency_key: 'shop:K1-0001', version: 2 });
    expect(await legacyModel.collection.findOne({ _id: 'old-n' as never })).toMatchObject({ idempotency_key: 'none:old-n', version: 1 });
    expect((await legacyModel.collection.indexes()).map((index) => index.name)).not.toContain(LEGACY_IDEMPOTENCY_INDEX);
    expect(await migrateIdempotencyKeys(legacyModel)).toBe(0); // done once: a key that itself starts with `alice:` stays
    await legacyModel.createIndexes();
    expect((await legacyModel.collection.indexes()).map((index) => index.name)).toContain(IDEMPOTENCY_INDEX);
    await legacyModel.db.dropDatabase();
  });

  it('hides another customer’s order', async () => {
    const order = await placeOrder(shopOf(store), 'alice', teaTwice, origin);
    await expect(cancelOrder(store, order.id, { sub: 'mallory', role: 'customer' }, 'x', origin)).rejects.toBeInstanceOf(NotFound);
  });
});

/** The refund use case against one implementation of the order store. */
interface Kit {
  store: OrderStore;
  /** Types of the events stored for the order, in the order they were stored. */
  eventTypes(orderId: string): Promise<string[]>;
  close(): Promise<void>;
}

function inMemoryKit(): Kit {
  const store = new InMemoryOrderStore();
  return {
    store,
    eventTypes: async (orderId) => store.events.filter((event) => (event.data as { orderId?: string }).orderId === orderId).map((event) => event.type),
    close: async () => undefined,
  };
}

/** The repository on the real database, its outbox relay publishing to a recorder. */
async function databaseKit(): Promise<Kit> {
  const connection = await mongoose.createConnection(testMongoUrl(), { dbName: isolatedPrefix('orderrefund'), maxPoolSize: 5 }).asPromise();
  const model = orderModel(connection);
  const published: EventEnvelope[] = [];
  const relay = new OutboxRelay({ models: [model], publisher: { publish: async (event) => void published.push(event) }, logger });
  await ensureIndexes(connection);
  return {
    store: new OrderRepository(model, relay),
    eventTypes: (orderId) => storedEventTypes(model, orderId, published, (event) => (event.data as { orderId?: string }).orderId === orderId),
    async close() {
      await relay.stop();
      await connection.dropDatabase();
      await connection.close();
    },
  };
}

describe.each([
  ['in memory', async () => inMemoryKit()],
  ['real database', databaseKit],
])('idempotency keys are scoped to the user as a pair (%s)', (_name, makeKit) => {
  let kit: Kit;

  beforeAll(async () => {
    kit = await makeKit();
  });

  afterAll(async () => {
    await kit.close();
  });

  it('gives `alice` with key `shop:K1-0001` and `alice:shop` with key `K1-0001` two different orders', async () => {
    const alices = await placeOrderOnce(shopOf(kit.store), 'alice', teaTwice, origin, 'shop:K1-0001');
    const other = await placeOrderOnce(shopOf(kit.store), 'alice:shop', teaTwice, origin, 'K1-0001');
    expect(other.replayed).toBe(false);
    expect(other.order.id).not.toBe(alices.order.id);
    expect(other.order.userId).toBe('alice:shop');

    const again = await placeOrderOnce(shopOf(kit.store), 'alice:shop', teaTwice, origin, 'K1-0001');
    expect(again).toMatchObject({ replayed: true, order: { id: other.order.id, userId: 'alice:shop' } });
    const alicesAgain = await placeOrderOnce(shopOf(kit.store), 'alice', teaTwice, origin, 'shop:K1-0001');
    expect(alicesAgain).toMatchObject({ replayed: true, order: { id: alices.order.id, userId: 'alice' } });
  });

  it('answers the same user with the same key with the first order, for concurrent requests too', async () => {
    const results = await Promise.all(Array.from({ length: 4 }, () => placeOrderOnce(shopOf(kit.store), 'bob:x', teaTwice, origin, 'retry-key-01')));
    expect(new Set(results.map((result) => result.order.id)).size).toBe(1);
    expect(results.filter((result) => !result.replayed)).toHaveLength(1);
    // Orders without a key never collide with each other (each holds its own placeholder).
    const [first, second] = [await placeOrder(shopOf(kit.store), 'bob:x', teaTwice, origin), await placeOrder(shopOf(kit.store), 'bob:x', teaTwice, origin)];
    expect(first.id).not.toBe(second.id);
  });
});

describe.each([
  ['in memory', async () => inMemoryKit()],
  ['real database', databaseKit],
])('order refunds (%s)', (_name, makeKit) => {
  let kit: Kit;
  let store: OrderStore;

  beforeAll(async () => {
    kit = await makeKit();
    store = kit.store;
  });

  afterAll(async () => {
    await kit.close();
  });

  async function paidOrder(paymentId: string) {
    const order = await placeOrder(shopOf(store), 'alice', teaTwice, origin);
    expect(await markOrderPaid(store, succeeded(order.id, paymentId), logger)).toBe('paid');
    return order;
  }

  const refundEvents = async (orderId: string) => (await kit.eventTypes(orderId)).filter((type) => type === 'order.refunded');

  it('moves a paid order to partially_refunded, then to refunded, with order.refunded each time', async () => {
    const order = await paidOrder('pay-1');
    expect(await recordOrderRefund(store, refunded(order.id, 'pay-1', 3000), logger)).toBe('partially_refunded');
    expect(await store.get(order.id)).toMatchObject({ status: 'partially_refunded', refundedMinor: 3000 });
    expect(await recordOrderRefund(store, refunded(order.id, 'pay-1', 9900, { refundMinor: 6900, sequence: 2 }), logger)).toBe('refunded');
    const stored = (await store.get(order.id))!;
    expect(stored).toMatchObject({ status: 'refunded', refundedMinor: 9900 });
    expect(stored.history.slice(-2)).toEqual([
      expect.objectContaining({ from: 'paid', to: 'partially_refunded', actor: 'payment:pay-1', detail: 'refund pay-1r01 by admin:ops: 30.00 of 99.00 refunded' }),
      expect.objectContaining({ from: 'partially_refunded', to: 'refunded', actor: 'payment:pay-1', detail: 'refund pay-1r02 by admin:ops: 99.00 of 99.00 refunded' }),
    ]);
    expect(await kit.eventTypes(order.id)).toEqual(['order.created', 'order.paid', 'order.refunded', 'order.refunded']);
  });

  it('records another partial refund on a partially refunded order', async () => {
    const order = await paidOrder('pay-2');
    await recordOrderRefund(store, refunded(order.id, 'pay-2', 1000), logger);
    expect(await recordOrderRefund(store, refunded(order.id, 'pay-2', 2500, { refundMinor: 1500, sequence: 2 }), logger)).toBe('partially_refunded');
    expect(await store.get(order.id)).toMatchObject({ status: 'partially_refunded', refundedMinor: 2500 });
    expect(await refundEvents(order.id)).toHaveLength(2);
  });

  it('ends at the larger refund total when two refunds arrive out of order', async () => {
    const order = await paidOrder('pay-3');
    const first = refunded(order.id, 'pay-3', 300);
    const second = refunded(order.id, 'pay-3', 1000, { refundMinor: 700, sequence: 2 });
    expect(await recordOrderRefund(store, second, logger)).toBe('partially_refunded');
    expect(await recordOrderRefund(store, first, logger)).toBe('already_recorded');
    expect(await store.get(order.id)).toMatchObject({ status: 'partially_refunded', refundedMinor: 1000 });
    expect(await refundEvents(order.id)).toHaveLength(1);
  });

  it('keeps a fully refunded order refunded when an earlier partial refund arrives after it', async () => {
    const order = await paidOrder('pay-4');
    expect(await recordOrderRefund(store, refunded(order.id, 'pay-4', 9900, { refundMinor: 9600, sequence: 2 }), logger)).toBe('refunded');
    expect(await recordOrderRefund(store, refunded(order.id, 'pay-4', 300), logger)).toBe('already_recorded');
    expect(await store.get(order.id)).toMatchObject({ status: 'refunded', refundedMinor: 9900 });
    expect(await refundEvents(order.id)).toHaveLength(1);
  });

  it('applies a payment.refunded delivered three times at once exactly once', async () => {
    const order = await paidOrder('pay-5');
    const event = refunded(order.id, 'pay-5', 4000);
    const outcomes = await Promise.all([1, 2, 3].map(() => recordOrderRefund(store, event, logger)));
    expect(outcomes.sort()).toEqual(['already_recorded', 'already_recorded', 'partially_refunded']);
    expect(await store.get(order.id)).toMatchObject({ status: 'partially_refunded', refundedMinor: 4000 });
    expect(await refundEvents(order.id)).toHaveLength(1);
    expect((await store.get(order.id))!.history.filter((entry) => entry.to === 'partially_refunded')).toHaveLength(1);
  });

  it('retries a refund that arrives before the paying payment\'s success, then applies both in order', async () => {
    const order = await placeOrder(shopOf(store), 'alice', teaTwice, origin);
    const early = refunded(order.id, 'pay-early', 9900);
    // Thrown (Unavailable), so the consumer puts it on its retry queue instead of acknowledging it away.
    await expect(recordOrderRefund(store, early, logger)).rejects.toThrow(/not paid yet by payment pay-early/);
    expect(await store.get(order.id)).toMatchObject({ status: 'pending_payment', refundedMinor: 0 });
    expect(await markOrderPaid(store, succeeded(order.id, 'pay-early'), logger)).toBe('paid');
    expect(await recordOrderRefund(store, early, logger)).toBe('refunded');
    expect(await store.get(order.id)).toMatchObject({ status: 'refunded', refundedMinor: 9900 });
  });

  it('leaves the order as it is for a refund of a payment that did not pay it', async () => {
    const cancelled = await placeOrder(shopOf(store), 'alice', teaTwice, origin);
    await cancelOrder(store, cancelled.id, alice, 'changed mind', origin);
    // A late success on the cancelled order, refunded in full.
    expect(await recordOrderRefund(store, refunded(cancelled.id, 'pay-late', 9900, { paidOrder: false }), logger)).toBe('other_payment');
    expect(await store.get(cancelled.id)).toMatchObject({ status: 'cancelled', refundedMinor: 0 });

    const paid = await paidOrder('pay-first');
    // A duplicate payment of the same order, refunded: the paying payment is untouched.
    expect(await recordOrderRefund(store, refunded(paid.id, 'pay-second', 9900), logger)).toBe('other_payment');
    expect(await store.get(paid.id)).toMatchObject({ status: 'paid', paymentId: 'pay-first', refundedMinor: 0 });

    const unpaid = await placeOrder(shopOf(store), 'alice', teaTwice, origin);
    expect(await recordOrderRefund(store, refunded(unpaid.id, 'pay-x', 9900, { paidOrder: false }), logger)).toBe('other_payment');
    expect((await store.get(unpaid.id))!.status).toBe('pending_payment');
    for (const order of [cancelled, paid, unpaid]) expect(await refundEvents(order.id)).toEqual([]);
  });

  it('reports a refund for an unknown order without failing the message', async () => {
    expect(await recordOrderRefund(store, refunded('no-such-order', 'pay-9', 9900), logger)).toBe('unknown_order');
  });
});
