import express, { type ErrorRequestHandler, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { formatMinorAmount } from '@pay/money';
import type { SimContext } from './context';
import { PROVIDERS, faultRequestSchema } from './faults';
import { type SimOrder, type SimRefund, statusWord } from './ledger';
import { NORMAL, notifyModeSchema } from './notifier';
import { describeIssues } from './raw-body';
import { settleOrder } from './settle';

/**
 * The control API for tests and tools (`/sim/...`): drive the buyer, read the ledger, decide pending
 * refunds, inject faults. Unauthenticated on purpose: a development tool, never deployed.
 */

const settleSchema = z.strictObject({ provider: z.enum(PROVIDERS).optional(), notify: notifyModeSchema.optional() });
const outcomeSchema = z.strictObject({ status: z.enum(['SUCCESS', 'ABNORMAL', 'CLOSED']), notify: notifyModeSchema.optional() });
const providerQuerySchema = z.object({ provider: z.enum(PROVIDERS).optional() });

function describeRefund(refund: SimRefund): Record<string, unknown> {
  return {
    provider: refund.provider,
    out_refund_no: refund.outRefundNo,
    refund_id: refund.refundId,
    out_trade_no: refund.outTradeNo,
    amount: refund.amountMinor,
    amount_yuan: formatMinorAmount(refund.amountMinor),
    reason: refund.reason,
    status: refund.state,
    notify_url: refund.notifyUrl,
    created_at: refund.createdAt.toISOString(),
    settled_at: refund.settledAt?.toISOString() ?? null,
    notifications: refund.notifications,
  };
}

function describeOrder(order: SimOrder): Record<string, unknown> {
  return {
    provider: order.provider,
    out_trade_no: order.outTradeNo,
    amount: order.amountMinor,
    amount_yuan: formatMinorAmount(order.amountMinor),
    currency: 'CNY',
    description: order.description,
    channel: order.channel,
    status: statusWord(order),
    state: order.state,
    transaction_id: order.transactionId,
    notify_url: order.notifyUrl,
    expires_at: order.expiresAt?.toISOString() ?? null,
    created_at: order.createdAt.toISOString(),
    paid_at: order.paidAt?.toISOString() ?? null,
    closed_at: order.closedAt?.toISOString() ?? null,
    opened: order.opened,
    failures: order.failures,
    refunds: order.refunds.map(describeRefund),
    notifications: order.notifications,
  };
}

function refuse(res: Response, status: number, code: string, message: string, extra: Record<string, unknown> = {}): void {
  res.status(status).json({ code, message, ...extra });
}

/** JSON body (absent = {}); anything else is refused rather than silently ignored. */
function bodyOf<T>(req: Request, res: Response, schema: z.ZodType<T>): T | null {
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if (hasBody && !req.is('application/json')) {
    refuse(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'send JSON (content-type: application/json)');
    return null;
  }
  const parsed = schema.safeParse(req.body ?? {});
  if (!parsed.success) {
    refuse(res, 400, 'INVALID_REQUEST', describeIssues(parsed.error));
    return null;
  }
  return parsed.data;
}

/** `?provider=` when given; answers 400 itself when it is not one of ours. */
function providerFilter(req: Request, res: Response): { provider?: (typeof PROVIDERS)[number] } | null {
  const parsed = providerQuerySchema.safeParse(req.query);
  if (!parsed.success) {
    refuse(res, 400, 'INVALID_REQUEST', `provider must be one of ${PROVIDERS.join(', ')}`);
    return null;
  }
  return parsed.data;
}

export function createControlRouter(context: SimContext): Router {
  const { ledger } = context;

  /** The one order by that out_trade_no (at the given provider); answers 404/400 itself otherwise. */
  function findOrder(res: Response, outTradeNo: string, provider: string | undefined): SimOrder | null {
    const found = ledger.ordersNamed(outTradeNo).filter((order) => provider === undefined || order.provider === provider);
    if (found.length === 0) {
      refuse(res, 404, 'ORDER_NOT_EXIST', `no order ${outTradeNo}${provider ? ` at ${provider}` : ''}`);
      return null;
    }
    if (found.length > 1) {
      refuse(res, 400, 'PROVIDER_REQUIRED', `order ${outTradeNo} exists at several providers: name one`, { providers: found.map((order) => order.provider) });
      return null;
    }
    return found[0]!;
  }

  const router = express.Router();
  router.use(express.json({ limit: '16kb' }));

  for (const action of ['pay', 'fail'] as const) {
    router.post(`/orders/:out_trade_no/${action}`, (req, res) => {
      const body = bodyOf(req, res, settleSchema);
      if (!body) return;
      const order = findOrder(res, req.params.out_trade_no, body.provider);
      if (!order) return;
      const refused = settleOrder(context, order, action, body.notify ?? NORMAL);
      if (refused) {
        refuse(res, 409, refused.code, refused.message, { order: describeOrder(order) });
        return;
      }
      res.json(describeOrder(order));
    });
  }

  router.get('/orders/:out_trade_no', (req, res) => {
    const filter = providerFilter(req, res);
    if (!filter) return;
    const order = findOrder(res, req.params.out_trade_no, filter.provider);
    if (order) res.json(describeOrder(order));
  });

  router.get('/refunds/:out_refund_no', (req, res) => {
    const filter = providerFilter(req, res);
    if (!filter) return;
    const found = ledger.refundsNamed(req.params.out_refund_no).filter((refund) => filter.provider === undefined || refund.provider === filter.provider);
    if (found.length === 0) return refuse(res, 404, 'REFUND_NOT_EXIST', `no refund ${req.params.out_refund_no}`);
    if (found.length > 1) return refuse(res, 400, 'PROVIDER_REQUIRED', 'that refund number exists several times: name the provider');
    res.json(describeRefund(found[0]!));
  });

  router.post('/refunds/:out_refund_no/outcome', (req, res) => {
    const body = bodyOf(req, res, outcomeSchema);
    if (!body) return;
    const settle = context.providers.wechatpay?.settleRefund;
    if (!settle) return refuse(res, 404, 'NOT_FOUND', 'only WeChat Pay refunds settle later, and WeChat Pay is not enabled');
    const outRefundNo = req.params.out_refund_no;
    const refund = ledger.refund('wechatpay', outRefundNo);
    const mode = body.notify ?? NORMAL;
    if (!refund) {
      // Decided before the refund is even made: applied when its processing time is up.
      context.plannedRefundOutcomes.set(outRefundNo, { state: body.status, notify: mode });
      res.status(202).json({ out_refund_no: outRefundNo, planned: body.status });
      return;
    }
    if (refund.state === 'SUCCESS' || refund.state === 'CLOSED') {
      return refuse(res, 409, 'REFUND_SETTLED', `refund ${outRefundNo} is already ${refund.state}`, { refund: describeRefund(refund) });
    }
    settle(refund, body.status, mode);
    res.json(describeRefund(refund));
  });

  router.get('/faults', (_req, res) => {
    res.json({ faults: context.faults.list() });
  });

  router.post('/faults', (req, res) => {
    const body = bodyOf(req, res, faultRequestSchema);
    if (!body) return;
    if (!context.providers[body.provider]) return refuse(res, 400, 'PROVIDER_DISABLED', `${body.provider} is not enabled in this simulator`);
    context.faults.add(body);
    res.status(201).json({ faults: context.faults.list() });
  });

  router.delete('/faults', (_req, res) => {
    context.faults.clear();
    res.status(204).end();
  });

  router.use((_req, res) => refuse(res, 404, 'NOT_FOUND', 'no such control endpoint'));
  const onError: ErrorRequestHandler = (error: { type?: string; status?: number }, _req, res, _next) => {
    if (error.type === 'entity.parse.failed') return refuse(res, 400, 'INVALID_REQUEST', 'the body is not valid JSON');
    if (error.type === 'entity.too.large') return refuse(res, 413, 'INVALID_REQUEST', 'the body is too large');
    refuse(res, 500, 'INTERNAL', 'the simulator failed on this request');
  };
  router.use(onError);
  return router;
}
