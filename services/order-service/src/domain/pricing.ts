import { BusinessRuleViolation } from '@pay/errors';
import { formatMinorAmount } from '@pay/money';
import type { OrderItem } from './order';
import type { Product } from './product';

/** An order line as the client asks for it: a product, a quantity, and optionally the price it shows. */
export interface RequestedItem {
  productId: string;
  quantity: number;
  /** The price the client believes it is paying; null when it did not send one. */
  unitPriceMinor: number | null;
}

/** What the client sent to place an order (the Idempotency-Key compares exactly this). */
export interface OrderRequest {
  items: RequestedItem[];
  /** The currency the client expects; null when it did not send one. */
  currency: string | null;
}

export interface PricedOrder {
  items: OrderItem[];
  currency: string;
}

/**
 * Prices an order from the catalog: name and unit price of every line are the catalog's, never the
 * client's. A client-sent price is only a check (the price it showed the customer): if it differs the
 * order is refused rather than charged at a price nobody saw. Unknown and inactive products, and a
 * mix of currencies (one order is paid in one currency), are refused too. All 422: the request is
 * well-formed, the shop's rules say no.
 */
export function priceFromCatalog(request: OrderRequest, products: readonly Product[]): PricedOrder {
  const catalog = new Map(products.map((product) => [product.id, product]));
  const items = request.items.map(({ productId, quantity, unitPriceMinor }): OrderItem => {
    const product = catalog.get(productId);
    if (!product) throw new BusinessRuleViolation(`product ${productId} does not exist`, { product_id: productId }, 'unknown_product');
    if (!product.active) throw new BusinessRuleViolation(`product ${productId} cannot be ordered`, { product_id: productId }, 'product_inactive');
    if (unitPriceMinor !== null && unitPriceMinor !== product.unitPriceMinor) {
      throw new BusinessRuleViolation(
        `the unit price of product ${productId} is ${formatMinorAmount(product.unitPriceMinor)} ${product.currency}`,
        { product_id: productId, catalog_unit_price: formatMinorAmount(product.unitPriceMinor), unit_price: formatMinorAmount(unitPriceMinor), currency: product.currency },
        'price_mismatch',
      );
    }
    return { productId, name: product.name, unitPriceMinor: product.unitPriceMinor, quantity };
  });
  const currencies = [...new Set(request.items.map((item) => catalog.get(item.productId)!.currency))];
  if (currencies.length > 1) {
    throw new BusinessRuleViolation('the items are priced in different currencies; place one order per currency', { currencies }, 'currency_mismatch');
  }
  const currency = currencies[0]!;
  if (request.currency !== null && request.currency !== currency) {
    throw new BusinessRuleViolation(`the items are priced in ${currency}, not ${request.currency}`, { currency, requested_currency: request.currency }, 'currency_mismatch');
  }
  return { items, currency };
}
