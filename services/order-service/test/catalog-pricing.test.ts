import { BusinessRuleViolation } from '@pay/errors';
import { OrderTotalTooLarge, OrderAggregate } from '../src/domain/order';
import { priceFromCatalog, type OrderRequest, type RequestedItem } from '../src/domain/pricing';
import { ProductAggregate, type Product } from '../src/domain/product';

const at = new Date('2026-01-01T00:00:00Z');
const product = (id: string, unitPriceMinor: number, extra: Partial<Product> = {}): Product => ({
  id, name: `Product ${id}`, unitPriceMinor, currency: 'CNY', active: true, createdAt: at, updatedAt: at, ...extra,
});
const catalog = [product('tea', 1250), product('cup', 300), product('old', 990, { active: false }), product('usd-tea', 200, { currency: 'USD' })];
const line = (productId: string, quantity = 1, unitPriceMinor: number | null = null): RequestedItem => ({ productId, quantity, unitPriceMinor });
const request = (items: RequestedItem[], currency: string | null = null): OrderRequest => ({ items, currency });

/** The refusal `price` throws, as `{code, details}`. */
function refusalOf(price: () => unknown): { code: string; details: unknown } {
  try {
    price();
  } catch (error) {
    if (!(error instanceof BusinessRuleViolation)) throw error;
    return { code: error.code, details: error.details };
  }
  throw new Error('expected a refusal');
}

describe('pricing an order from the catalog', () => {
  it("copies each product's name and price, whatever the client knows of them", () => {
    const priced = priceFromCatalog(request([line('tea', 2), line('cup', 3)]), catalog);
    expect(priced).toEqual({
      currency: 'CNY',
      items: [
        { productId: 'tea', name: 'Product tea', unitPriceMinor: 1250, quantity: 2 },
        { productId: 'cup', name: 'Product cup', unitPriceMinor: 300, quantity: 3 },
      ],
    });
    // The total is the catalog price × quantity.
    expect(OrderAggregate.place({ userId: 'alice', ...priced, origin: { producer: 'test' } }).state.totalAmountMinor).toBe(2 * 1250 + 3 * 300);
  });

  it("accepts a client-sent price equal to the catalog's", () => {
    expect(priceFromCatalog(request([line('tea', 1, 1250)]), catalog).items[0]?.unitPriceMinor).toBe(1250);
  });

  it('refuses a client-sent price other than the catalog’s, naming the product and the catalog price', () => {
    expect(refusalOf(() => priceFromCatalog(request([line('cup'), line('tea', 2, 1)]), catalog))).toEqual({
      code: 'price_mismatch',
      details: { product_id: 'tea', catalog_unit_price: '12.50', unit_price: '0.01', currency: 'CNY' },
    });
  });

  it('refuses an unknown product', () => {
    expect(refusalOf(() => priceFromCatalog(request([line('tea'), line('ghost')]), catalog))).toEqual({ code: 'unknown_product', details: { product_id: 'ghost' } });
  });

  it('refuses an inactive product', () => {
    expect(refusalOf(() => priceFromCatalog(request([line('old')]), catalog))).toEqual({ code: 'product_inactive', details: { product_id: 'old' } });
  });

  it('refuses items priced in different currencies, and a currency other than the items’', () => {
    expect(refusalOf(() => priceFromCatalog(request([line('tea'), line('usd-tea')]), catalog))).toEqual({ code: 'currency_mismatch', details: { currencies: ['CNY', 'USD'] } });
    expect(refusalOf(() => priceFromCatalog(request([line('tea')], 'USD'), catalog))).toEqual({ code: 'currency_mismatch', details: { currency: 'CNY', requested_currency: 'USD' } });
    expect(priceFromCatalog(request([line('usd-tea')], 'USD'), catalog).currency).toBe('USD');
  });

  it('still refuses a total beyond the money range (400), computed from catalog prices', () => {
    const priced = priceFromCatalog(request([line('max', 2)]), [product('max', 999_999_999_999)]);
    expect(() => OrderAggregate.place({ userId: 'alice', ...priced, origin: { producer: 'test' } })).toThrow(OrderTotalTooLarge);
  });
});

describe('a catalog product', () => {
  it('changes only the fields given, and the same values again are no change (no write)', () => {
    const created = ProductAggregate.create({ id: 'tea', name: 'Tea', unitPriceMinor: 1250, currency: 'CNY', active: true }, at);
    const stored = ProductAggregate.rehydrate(created.state, 1);
    stored.change({ unitPriceMinor: 1250, active: true }, new Date());
    expect(stored.changed).toBe(false);
    const later = new Date('2026-02-01T00:00:00Z');
    stored.change({ unitPriceMinor: 1500 }, later);
    expect(stored.changed).toBe(true);
    expect(stored.state).toEqual({ ...created.state, unitPriceMinor: 1500, updatedAt: later });
  });

  it('gets a generated id inside the product id format when none is chosen', () => {
    expect(ProductAggregate.create({ name: 'Tea', unitPriceMinor: 1, currency: 'CNY', active: true }).id).toMatch(/^p_[0-9a-f]{16}$/);
  });
});
