import { ApiError, type ApiClient } from '@pay/client';
import { startTestStack, type TestStack } from '../support/stack';

/** Issue 13: prices are the shop's. Through the gateway, against the real services and database. */
describe('the catalog sets the prices', () => {
  let system: TestStack;
  let admin: ApiClient;

  beforeAll(async () => {
    system = await startTestStack('catalog');
    admin = system.client('catalog-ops', 'admin');
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  });

  async function refusal(call: Promise<unknown>): Promise<{ status: number; code: string | undefined; details?: unknown }> {
    try {
      await call;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      return { status: error.status, code: error.code, details: typeof error.body === 'string' ? undefined : error.body.error.details };
    }
    throw new Error('expected the call to be refused');
  }

  it('a customer sending unit_price 0.01 for a 12.50 product gets 422 price_mismatch and no order', async () => {
    const tea = await admin.createProduct({ name: 'Green tea', unit_price: '12.50' });
    const mallory = system.client('mallory');
    expect(await refusal(mallory.createOrder({ items: [{ product_id: tea.id, quantity: 10, unit_price: '0.01' }] }))).toEqual({
      status: 422,
      code: 'price_mismatch',
      details: expect.objectContaining({ product_id: tea.id, catalog_unit_price: '12.50' }),
    });
    expect((await mallory.getOrders()).count).toBe(0);
  });

  it('lets a customer read the catalog but not write it (403)', async () => {
    const pot = await admin.createProduct({ name: 'Teapot', unit_price: '168.00' });
    const carol = system.client('carol');
    expect((await carol.listProducts({ page_size: 100 })).results.map((product) => product.id)).toContain(pot.id);
    expect(await refusal(carol.createProduct({ name: 'My own price', unit_price: '0.01' }))).toMatchObject({ status: 403, code: 'forbidden' });
    expect(await refusal(carol.updateProduct(pot.id, { unit_price: '0.01' }))).toMatchObject({ status: 403, code: 'forbidden' });
    expect(await refusal(system.client('audra', 'auditor').updateProduct(pot.id, { active: false }))).toMatchObject({ status: 403, code: 'forbidden' });
    expect((await admin.listProducts({ include_inactive: true, page_size: 100 })).results.find((product) => product.id === pot.id)).toMatchObject({ unit_price: '168.00', active: true });
  });

  it('refuses an inactive product (422) and hides it from customers', async () => {
    const cup = await admin.createProduct({ name: 'Old cup', unit_price: '9.90' });
    await admin.updateProduct(cup.id, { active: false });
    const dave = system.client('dave');
    expect(await refusal(dave.createOrder({ items: [{ product_id: cup.id, quantity: 1 }] }))).toMatchObject({ status: 422, code: 'product_inactive' });
    expect(await refusal(dave.createOrder({ items: [{ product_id: 'no-such-product', quantity: 1 }] }))).toMatchObject({ status: 422, code: 'unknown_product' });
    expect((await dave.listProducts({ page_size: 100 })).results.map((product) => product.id)).not.toContain(cup.id);
    expect((await dave.getOrders()).count).toBe(0);
  });

  it("totals an order at the catalog's price × quantity, and a later price change does not change the order or its payment", async () => {
    const kettle = await admin.createProduct({ name: 'Kettle', unit_price: '49.50' });
    const erin = system.client('erin');
    const order = await erin.createOrder({ items: [{ product_id: kettle.id, quantity: 2 }] });
    expect(order).toMatchObject({ total_amount: '99.00', currency: 'CNY', items: [{ product_id: kettle.id, name: 'Kettle', unit_price: '49.50', quantity: 2 }] });

    await admin.updateProduct(kettle.id, { unit_price: '59.50', name: 'Electric kettle' });
    expect(await erin.getOrder(order.id)).toEqual(order);
    const payment = await erin.createPayment({ order_id: order.id, amount: '99.00' });
    expect(payment.amount).toBe('99.00');
    // New orders take the new price.
    expect((await erin.createOrder({ items: [{ product_id: kettle.id, quantity: 2 }] })).total_amount).toBe('119.00');
  });
});
