import { Router, type Response } from 'express';
import { identityOf } from '@pay/auth';
import { IDEMPOTENCY_KEY_HEADER, cancelBody, createOrderBody, idempotentCreateHeaders, listOrdersQuery, objectId, type OrderView } from '@pay/contracts';
import { Forbidden } from '@pay/errors';
import { eventOrigin, pageOf, validate } from '@pay/http';
import type { Logger } from '@pay/logger';
import { formatMinorAmount } from '@pay/money';
import type { Order } from '../../domain/order';
import { cancelOrder, placeOrderOnce, visibleOrder, type Shop } from '../../domain/order-use-cases';

export function toOrderView(order: Order): OrderView {
  return {
    id: order.id,
    order_number: order.orderNumber,
    user_id: order.userId,
    items: order.items.map((item) => ({
      product_id: item.productId,
      name: item.name,
      unit_price: formatMinorAmount(item.unitPriceMinor),
      quantity: item.quantity,
    })),
    total_amount: formatMinorAmount(order.totalAmountMinor),
    currency: order.currency,
    status: order.status,
    created_at: order.createdAt.toISOString(),
    updated_at: order.updatedAt.toISOString(),
  };
}

/** Thin: validate → use case → view. */
export function orderRoutes(shop: Shop, logger: Logger): Router {
  const router = Router();
  const store = shop.orders;
  const origin = (res: Response) => eventOrigin(res, 'order-service');

  router.post('/orders', async (req, res) => {
    const identity = identityOf(res);
    if (identity.role !== 'customer') throw new Forbidden('only customers place orders');
    const key = validate(idempotentCreateHeaders, req.headers, 'headers')[IDEMPOTENCY_KEY_HEADER] ?? null;
    const body = validate(createOrderBody, req.body, 'body');
    const request = {
      items: body.items.map((item) => ({ productId: item.product_id, quantity: item.quantity, unitPriceMinor: item.unit_price ?? null })),
      currency: body.currency ?? null,
    };
    const { order, replayed } = await placeOrderOnce(shop, identity.sub, request, origin(res), key);
    if (replayed) res.setHeader('idempotent-replayed', 'true');
    else logger.info('order placed', { order_id: order.id, order_number: order.orderNumber, total_minor: order.totalAmountMinor });
    res.status(201).json(toOrderView(order));
  });

  router.get('/orders', async (req, res) => {
    const identity = identityOf(res);
    const query = validate(listOrdersQuery, req.query, 'query');
    const { items, count } = await store.list({ userId: identity.role === 'customer' ? identity.sub : undefined, status: query.status }, query.page, query.page_size);
    res.json(pageOf(items.map(toOrderView), count, query.page, query.page_size, '/api/v1/orders', query));
  });

  router.get('/orders/:id', async (req, res) => {
    const order = await visibleOrder(store, validate(objectId, req.params.id, 'order id'), identityOf(res));
    res.json(toOrderView(order));
  });

  router.post('/orders/:id/cancel', async (req, res) => {
    const identity = identityOf(res);
    if (identity.role === 'auditor') throw new Forbidden('auditors have read-only access');
    const body = validate(cancelBody, req.body ?? {}, 'body');
    const cancelled = await cancelOrder(store, validate(objectId, req.params.id, 'order id'), identity, body.reason ?? 'cancelled by request', origin(res));
    res.json(toOrderView(cancelled));
  });

  return router;
}
