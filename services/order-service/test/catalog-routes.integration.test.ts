import { serveInProcess, type InProcessServer } from '../../../test/support/in-process';
import mongoose, { type Connection } from 'mongoose';
import { requireInternalIdentity, signInternalIdentity } from '@pay/auth';
import { INTERNAL_IDENTITY_HEADER, type OrderView, type Page, type ProductView, type Role } from '@pay/contracts';
import { ensureIndexes } from '@pay/db';
import { createHttpApp, finishApp } from '@pay/http';
import { createLogger } from '@pay/logger';
import { createMetrics } from '@pay/metrics';
import { OutboxRelay } from '@pay/outbox';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';
import { orderModel } from '../src/data-access/order-model';
import { OrderRepository } from '../src/data-access/order-repository';
import { productModel, type ProductModel } from '../src/data-access/product-model';
import { ProductRepository } from '../src/data-access/product-repository';
import { productRoutes } from '../src/entry-points/http/product-routes';
import { orderRoutes } from '../src/entry-points/http/routes';

/** The catalog and order routes of the order-service in-process over the real database. */
const SECRET = 'catalog-routes-test-secret-0123456789abcdef';
const logger = createLogger('order-service', 'error');
let connection: Connection;
let products: ProductModel;
let relay: OutboxRelay;
let server: InProcessServer;

beforeAll(async () => {
  connection = mongoose.createConnection(testMongoUrl(), { dbName: isolatedPrefix('catalog'), maxPoolSize: 5, autoIndex: false });
  await connection.asPromise();
  const orders = orderModel(connection);
  products = productModel(connection);
  relay = new OutboxRelay({ models: [orders], publisher: { publish: async () => undefined }, logger });
  await ensureIndexes(connection);
  const catalog = new ProductRepository(products);
  const app = createHttpApp({ service: 'order-service', logger, metrics: createMetrics('order-service'), readiness: {} });
  app.use(
    '/api/v1',
    requireInternalIdentity({ secret: SECRET, audience: 'order-service' }),
    orderRoutes({ orders: new OrderRepository(orders, relay), catalog }, logger),
    productRoutes(catalog, logger),
  );
  finishApp(app, logger);
  server = await serveInProcess(app);
});

afterAll(async () => {
  await server?.close();
  await relay?.stop();
  await connection.dropDatabase().catch(() => undefined);
  await connection.close();
});

interface Answer<T> {
  status: number;
  body: T & { error?: { code: string; details?: unknown } };
}

/** A request as the gateway forwards it: the caller's identity in a token bound to the method and path. */
async function call<T = unknown>(method: string, path: string, who: { sub: string; role: Role }, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const identity = signInternalIdentity(who, SECRET, { audience: 'order-service', method, path: `/api/v1${path}` });
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { [INTERNAL_IDENTITY_HEADER]: identity, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Answer<T>['body'] };
}

const admin = { sub: 'ops', role: 'admin' } as const;
const alice = { sub: 'alice', role: 'customer' } as const;
const storedVersion = async (id: string) => (await products.collection.findOne({ _id: id as never }))?.version as number | undefined;

describe('catalog routes (real database)', () => {
  it('adds a product with the id an admin chose, refuses that id again (409) and a customer (403)', async () => {
    const added = await call<ProductView>('POST', '/products', admin, { id: 'green-tea', name: 'Green tea', unit_price: '12.50' });
    expect(added).toMatchObject({ status: 201, body: { id: 'green-tea', name: 'Green tea', unit_price: '12.50', currency: 'CNY', active: true } });
    const again = await call('POST', '/products', admin, { id: 'green-tea', name: 'Cheap tea', unit_price: '0.01' });
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'duplicate_product' } } });
    expect((await call('POST', '/products', alice, { name: 'Free tea', unit_price: '0.00' })).status).toBe(403);
    expect((await call('PATCH', '/products/green-tea', alice, { unit_price: '0.01' })).status).toBe(403);
    expect(await products.collection.findOne({ _id: 'green-tea' as never })).toMatchObject({ name: 'Green tea', unit_price_minor: 1250, version: 1 });
  });

  it('lists active products by id to customers, and inactive ones too to an admin who asks', async () => {
    for (const [id, active] of [['list-b', true], ['list-a', true], ['list-c', false]] as const) {
      expect((await call('POST', '/products', admin, { id, name: id, unit_price: '1.00', active })).status).toBe(201);
    }
    const seen = await call<Page<ProductView>>('GET', '/products?page_size=100', alice);
    const ids = seen.body.results.map((product) => product.id);
    expect(ids).toEqual([...ids].sort());
    expect(ids).toEqual(expect.arrayContaining(['list-a', 'list-b']));
    expect(ids).not.toContain('list-c');
    const all = await call<Page<ProductView>>('GET', '/products?include_inactive=true&page_size=100', admin);
    expect(all.body.results.map((product) => product.id)).toContain('list-c');
    expect(all.body.count).toBe(seen.body.count + 1);
    expect((await call('GET', '/products?include_inactive=true', alice)).status).toBe(403);
    const firstPage = await call<Page<ProductView>>('GET', '/products?page_size=1', alice);
    expect(firstPage.body).toMatchObject({ count: seen.body.count, previous: null, next: '/api/v1/products?page_size=1&page=2' });
  });

  it('changes a product with one versioned write per change; concurrent changes are both kept', async () => {
    await call('POST', '/products', admin, { id: 'kettle', name: 'Kettle', unit_price: '80.00' });
    const [renamed, repriced] = await Promise.all([
      call<ProductView>('PATCH', '/products/kettle', admin, { name: 'Steel kettle' }),
      call<ProductView>('PATCH', '/products/kettle', admin, { unit_price: '88.00' }),
    ]);
    expect([renamed.status, repriced.status]).toEqual([200, 200]);
    expect(await products.collection.findOne({ _id: 'kettle' as never })).toMatchObject({ name: 'Steel kettle', unit_price_minor: 8800, version: 3 });
    // The same values again: no change, no write.
    expect((await call('PATCH', '/products/kettle', admin, { unit_price: '88.00' })).status).toBe(200);
    expect(await storedVersion('kettle')).toBe(3);
    expect(await call('PATCH', '/products/kettle', admin, {})).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    expect(await call('PATCH', '/products/no-such-product', admin, { active: false })).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
  });
});

describe('orders priced from the catalog (real database)', () => {
  beforeAll(async () => {
    await call('POST', '/products', admin, { id: 'cup', name: 'Cup', unit_price: '12.50' });
    await call('POST', '/products', admin, { id: 'retired', name: 'Retired', unit_price: '5.00', active: false });
  });

  const orderCount = async (sub: string) => (await call<Page<OrderView>>('GET', '/orders', { sub, role: 'customer' })).body.count;

  it("copies name and price from the catalog: the total is the catalog's price × quantity", async () => {
    const placed = await call<OrderView>('POST', '/orders', alice, { items: [{ product_id: 'cup', quantity: 3 }] });
    expect(placed).toMatchObject({ status: 201, body: { total_amount: '37.50', currency: 'CNY', items: [{ product_id: 'cup', name: 'Cup', unit_price: '12.50', quantity: 3 }] } });
  });

  it("refuses a unit price other than the catalog's (422 price_mismatch) and stores no order", async () => {
    const buyer = { sub: 'bargain-hunter', role: 'customer' } as const;
    const refused = await call('POST', '/orders', buyer, { items: [{ product_id: 'cup', quantity: 1, unit_price: '0.01' }] });
    expect(refused).toMatchObject({ status: 422, body: { error: { code: 'price_mismatch', details: { product_id: 'cup', catalog_unit_price: '12.50' } } } });
    expect(await call('POST', '/orders', buyer, { items: [{ product_id: 'retired', quantity: 1 }] })).toMatchObject({ status: 422, body: { error: { code: 'product_inactive' } } });
    expect(await call('POST', '/orders', buyer, { items: [{ product_id: 'nothing', quantity: 1 }] })).toMatchObject({ status: 422, body: { error: { code: 'unknown_product' } } });
    expect(await orderCount(buyer.sub)).toBe(0);
    expect((await call('POST', '/orders', buyer, { items: [{ product_id: 'cup', quantity: 1, unit_price: '12.50' }] })).status).toBe(201);
  });

  it('keeps an order as it was placed when the price changes later; a retry under the same key answers that order', async () => {
    await call('POST', '/products', admin, { id: 'pot', name: 'Pot', unit_price: '30.00' });
    const buyer = { sub: 'early-bird', role: 'customer' } as const;
    const body = { items: [{ product_id: 'pot', quantity: 2 }] };
    const placed = await call<OrderView>('POST', '/orders', buyer, body, { 'idempotency-key': 'pot-order-0001' });
    expect(placed.body.total_amount).toBe('60.00');
    await call('PATCH', '/products/pot', admin, { unit_price: '45.00', name: 'Big pot' });
    expect((await call<OrderView>('GET', `/orders/${placed.body.id}`, buyer)).body).toMatchObject({ total_amount: '60.00', items: [{ name: 'Pot', unit_price: '30.00' }] });
    const retried = await call<OrderView>('POST', '/orders', buyer, body, { 'idempotency-key': 'pot-order-0001' });
    expect(retried).toMatchObject({ status: 201, body: { id: placed.body.id, total_amount: '60.00' } });
    // Even after the product is withdrawn: the retry is the same request, already answered.
    await call('PATCH', '/products/pot', admin, { active: false });
    expect((await call<OrderView>('POST', '/orders', buyer, body, { 'idempotency-key': 'pot-order-0001' })).body.id).toBe(placed.body.id);
    const other = await call('POST', '/orders', buyer, { items: [{ product_id: 'pot', quantity: 3 }] }, { 'idempotency-key': 'pot-order-0001' });
    expect(other).toMatchObject({ status: 422, body: { error: { code: 'idempotency_key_reused' } } });
    expect(await orderCount(buyer.sub)).toBe(1);
  });
});
