import { Router } from 'express';
import { identityOf } from '@pay/auth';
import { createProductBody, listProductsQuery, objectId, updateProductBody, type Identity, type ProductView } from '@pay/contracts';
import { Forbidden } from '@pay/errors';
import { pageOf, validate } from '@pay/http';
import type { Logger } from '@pay/logger';
import { formatMinorAmount } from '@pay/money';
import { addProduct, changeProduct } from '../../domain/catalog-use-cases';
import type { Product } from '../../domain/product';
import type { ProductStore } from '../../domain/product-store';

export function toProductView(product: Product): ProductView {
  return {
    id: product.id,
    name: product.name,
    unit_price: formatMinorAmount(product.unitPriceMinor),
    currency: product.currency,
    active: product.active,
    created_at: product.createdAt.toISOString(),
    updated_at: product.updatedAt.toISOString(),
  };
}

/** The gateway lets only admins write the catalog; checked here too, so no other path can. */
function requireAdmin(identity: Identity): void {
  if (identity.role !== 'admin') throw new Forbidden('only admins change the catalog');
}

/** Thin: validate → use case → view. */
export function productRoutes(store: ProductStore, logger: Logger): Router {
  const router = Router();

  router.get('/products', async (req, res) => {
    const identity = identityOf(res);
    const query = validate(listProductsQuery, req.query, 'query');
    const includeInactive = query.include_inactive === 'true';
    if (includeInactive && identity.role !== 'admin') throw new Forbidden('only admins list inactive products');
    const { items, count } = await store.list({ activeOnly: !includeInactive }, query.page, query.page_size);
    res.json(pageOf(items.map(toProductView), count, query.page, query.page_size, '/api/v1/products', query));
  });

  router.post('/products', async (req, res) => {
    const identity = identityOf(res);
    requireAdmin(identity);
    const body = validate(createProductBody, req.body, 'body');
    const product = await addProduct(store, { id: body.id, name: body.name, unitPriceMinor: body.unit_price, currency: body.currency, active: body.active });
    logger.info('product added', { product_id: product.id, unit_price_minor: product.unitPriceMinor, actor: identity.sub });
    res.status(201).json(toProductView(product));
  });

  router.patch('/products/:id', async (req, res) => {
    const identity = identityOf(res);
    requireAdmin(identity);
    const id = validate(objectId, req.params.id, 'product id');
    const body = validate(updateProductBody, req.body, 'body');
    const product = await changeProduct(store, id, { name: body.name, unitPriceMinor: body.unit_price, active: body.active });
    logger.info('product changed', { product_id: id, changed: Object.keys(body), actor: identity.sub });
    res.json(toProductView(product));
  });

  return router;
}
