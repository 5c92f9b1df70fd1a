import { randomUUID } from 'node:crypto';
import { Router, type Response } from 'express';
import { identityOf } from '@pay/auth';
import {
  IDEMPOTENCY_KEY_HEADER,
  cancelBody,
  createPaymentBody,
  createRefundBody,
  emptyBody,
  idempotentCreateHeaders,
  listPaymentsQuery,
  listRefundsQuery,
  objectId,
  startPaymentBody,
  type Identity,
} from '@pay/contracts';
import { Forbidden } from '@pay/errors';
import { eventOrigin, pageOf, validate } from '@pay/http';
import type { Logger } from '@pay/logger';
import { visiblePayment } from '../../domain/change-payment';
import { createPaymentForOrder } from '../../domain/create-payment';
import type { KnownOrders } from '../../domain/known-orders';
import type { OrderViewLag } from '../../domain/order-view-lag';
import type { Payment } from '../../domain/payment';
import { cancelAtProvider, expireAtProvider, startAtProvider } from '../../domain/pay-at-provider';
import { findRefund, refundAtProvider, type RefundCalls } from '../../domain/refund-at-provider';
import { failPayment } from '../../domain/payment-moves';
import type { PaymentStore } from '../../domain/payment-store';
import { processPaymentSuccess } from '../../domain/process-success';
import type { PaymentConfig } from '../../config';
import { toPaymentView, toRefundView } from './payment-view';

interface Dependencies {
  store: PaymentStore;
  /** The provider clients and the store, for the moves that ask a provider (start, cancel, expire, refund). */
  calls: RefundCalls;
  orders: KnownOrders;
  /**
   * Whether the view of orders lags: an unknown order is then "not known yet" (503), not 404. main.ts
   * always passes the broker-backed one; left out (route tests without a broker), the view counts as caught up.
   */
  lag?: OrderViewLag;
  config: PaymentConfig;
  logger: Logger;
}

const PRODUCER = 'payment-service';

/** Thin: validate → use case → view. Rules live in domain/. */
export function paymentRoutes({ store, calls, orders, lag, config, logger }: Dependencies): Router {
  const router = Router();
  const origin = (res: Response) => eventOrigin(res, PRODUCER);
  const actorOf = (identity: Identity) => `${identity.role}:${identity.sub}`;

  const paymentIdOf = (raw: string) => validate(objectId, raw, 'payment id');

  const visible = (id: string, identity: Identity): Promise<Payment> => visiblePayment(store, paymentIdOf(id), identity);

  function requireAdminOrSandbox(identity: Identity): void {
    if (identity.role !== 'admin' && !(config.PAYMENT_SANDBOX && identity.role === 'customer')) {
      throw new Forbidden('only an admin (or a customer in sandbox mode) may do this');
    }
  }

  function requireCustomerOrAdmin(identity: Identity): void {
    if (identity.role === 'auditor') throw new Forbidden('auditors have read-only access');
  }

  router.get('/payments', async (req, res) => {
    const identity = identityOf(res);
    const query = validate(listPaymentsQuery, req.query, 'query');
    const { items, count } = await store.list(
      { userId: identity.role === 'customer' ? identity.sub : undefined, orderId: query.order_id },
      query.page,
      query.page_size,
    );
    res.json(pageOf(items.map((payment) => toPaymentView(payment, identity)), count, query.page, query.page_size, '/api/v1/payments', query));
  });

  router.post('/payments', async (req, res) => {
    const identity = identityOf(res);
    requireCustomerOrAdmin(identity);
    const body = validate(createPaymentBody, req.body, 'body');
    const payment = await createPaymentForOrder(
      store,
      orders,
      { identity, orderId: body.order_id, method: body.method, amountMinor: body.amount },
      { ttlMinutes: config.PAYMENT_TTL_MINUTES, orderWaitMs: config.ORDER_WAIT_MS },
      origin(res),
      lag,
    );
    logger.info('payment created', { payment_id: payment.id, order_id: payment.orderId, amount_minor: payment.amountMinor });
    res.status(201).json(toPaymentView(payment, identity));
  });

  router.get('/payments/:id', async (req, res) => {
    const identity = identityOf(res);
    res.json(toPaymentView(await visible(req.params.id, identity), identity));
  });

  router.post('/payments/:id/start', async (req, res) => {
    const identity = identityOf(res);
    requireCustomerOrAdmin(identity);
    const body = validate(startPaymentBody, req.body ?? {}, 'body');
    const result = await startAtProvider(calls, paymentIdOf(req.params.id), body, actorOf(identity), origin(res), identity);
    if (result.outcome === 'started') logger.info('payment started at its provider', { payment_id: result.payment.id, provider: result.payment.provider, channel: result.payment.providerOrder?.channel });
    res.json(toPaymentView(result.payment, identity));
  });

  router.post('/payments/:id/succeed', async (req, res) => {
    const identity = identityOf(res);
    requireAdminOrSandbox(identity);
    validate(emptyBody, req.body ?? {}, 'body');
    const result = await processPaymentSuccess(
      store,
      paymentIdOf(req.params.id),
      { transactionId: `manual-${randomUUID()}`, provider: null, actor: actorOf(identity), origin: origin(res) },
      logger,
      identity,
    );
    res.json(toPaymentView(result.payment, identity));
  });

  router.post('/payments/:id/fail', async (req, res) => {
    const identity = identityOf(res);
    requireAdminOrSandbox(identity);
    const body = validate(cancelBody, req.body ?? {}, 'body');
    const result = await failPayment(store, paymentIdOf(req.params.id), body.reason ?? 'marked failed', actorOf(identity), null, origin(res), identity);
    res.json(toPaymentView(result.payment, identity));
  });

  router.post('/payments/:id/cancel', async (req, res) => {
    const identity = identityOf(res);
    requireCustomerOrAdmin(identity);
    const body = validate(cancelBody, req.body ?? {}, 'body');
    const result = await cancelAtProvider(calls, paymentIdOf(req.params.id), body.reason ?? 'cancelled by request', actorOf(identity), origin(res), { viewer: identity });
    res.json(toPaymentView(result.payment, identity));
  });

  router.post('/payments/:id/expire', async (req, res) => {
    const identity = identityOf(res);
    if (identity.role !== 'admin') throw new Forbidden('only an admin may expire a payment');
    validate(emptyBody, req.body ?? {}, 'body');
    const result = await expireAtProvider(calls, paymentIdOf(req.params.id), actorOf(identity), origin(res), identity);
    res.json(toPaymentView(result.payment, identity));
  });

  router.post('/payments/:id/refunds', async (req, res) => {
    const identity = identityOf(res);
    if (identity.role !== 'admin') throw new Forbidden('only an admin may refund');
    const paymentId = paymentIdOf(req.params.id);
    const key = validate(idempotentCreateHeaders, req.headers, 'headers')[IDEMPOTENCY_KEY_HEADER] ?? null;
    const body = validate(createRefundBody, req.body, 'body');
    const result = await refundAtProvider(
      calls,
      paymentId,
      {
        amountMinor: body.amount ?? null,
        reason: body.reason,
        idempotencyKey: key,
        // What a replay with the same key must repeat: the amount asked (or "the rest") and the reason.
        requestFingerprint: key ? JSON.stringify([body.amount ?? null, body.reason]) : null,
      },
      actorOf(identity),
      origin(res),
    );
    if (result.replayed) res.setHeader('idempotent-replayed', 'true');
    res.status(201).json(toRefundView(result.payment, result.refund, identity));
  });

  router.get('/payments/:id/refunds', async (req, res) => {
    const identity = identityOf(res);
    const query = validate(listRefundsQuery, req.query, 'query');
    const payment = await visible(req.params.id, identity);
    const all = payment.refunds.map((refund) => toRefundView(payment, refund, identity));
    const start = (query.page - 1) * query.page_size;
    res.json(pageOf(all.slice(start, start + query.page_size), all.length, query.page, query.page_size, `/api/v1/payments/${payment.id}/refunds`, query));
  });

  router.get('/refunds/:id', async (req, res) => {
    const identity = identityOf(res);
    const { payment, refund } = await findRefund(calls, validate(objectId, req.params.id, 'refund id'), identity);
    res.json(toRefundView(payment, refund, identity));
  });

  return router;
}
