import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response, type Router } from 'express';
import { z } from 'zod';
import { formatMinorAmount, parseDecimalAmount } from '@pay/money';
import { MOCK_SIGNATURE_HEADER, signMockAnswer, signMockCallback, verifyMockRequest } from '@pay/providers';
import { type ProviderHooks, type SimContext, cashierUrl, parseRfc3339, randomText, sendNotification } from './context';
import { type Answer, type AnswerWriter, answerWithFaults, sendAnswerText } from './answers';
import type { Operation } from './faults';
import { type SimOrder, type SimRefund, addRefund, newOrder, refundedMinor, statusWord } from './ledger';
import { type NotifyMode, WECHATPAY_RETRY_DELAYS_S, acknowledgedBy2xx } from './notifier';
import { parseBodyWith, rawBodyOf, readRawBody } from './raw-body';

/**
 * The mock provider: our own development protocol (no real counterpart). Requests and answers are signed
 * with the HMAC scheme of libs/providers (`x-mock-signature`), bodies are strict JSON, amounts yuan strings.
 */

export interface MockSimConfig {
  secret: string;
}

const reference = z.string().regex(/^[0-9A-Za-z_\-|*]{1,64}$/, 'must be 1-64 characters of 0-9 A-Z a-z _ - | *');
const yuan = z.string().max(16);

const orderSchema = z.strictObject({
  out_trade_no: reference,
  amount: yuan,
  description: z.string().min(1).max(127),
  notify_url: z.url({ protocol: /^https?$/ }).max(512).optional(),
  time_expire: z.string().max(64).optional(),
});

const refundSchema = z.strictObject({
  out_trade_no: reference,
  out_refund_no: reference,
  amount: yuan,
  reason: z.string().min(1).max(256),
});

function failure(status: number, code: string, message: string): Answer {
  return { status, body: { code, message } };
}

function positiveAmount(text: string): number | null {
  const minor = parseDecimalAmount(text);
  return minor !== null && minor >= 1 ? minor : null;
}

export function createMockSim(context: SimContext, config: MockSimConfig): { router: Router; hooks: ProviderHooks } {
  const { ledger } = context;

  function write(res: Response, answer: Answer, corruptSignature: boolean): void {
    const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
    let signature = signMockAnswer(config.secret, text);
    // A flipped last hex digit: still well-formed, no longer valid.
    if (corruptSignature) signature = signature.slice(0, -1) + (signature.endsWith('0') ? '1' : '0');
    res.status(answer.status).set(MOCK_SIGNATURE_HEADER, signature);
    sendAnswerText(res, answer, text, context.log, 'mock');
  }

  const writer: AnswerWriter = {
    send: (res, answer, options) => write(res, answer, options.corruptSignature),
    systemError: (res) => write(res, failure(500, 'SYSTEM_ERROR', 'system error, retry with the same parameters'), false),
  };

  type Perform = (req: Request, raw: Buffer, options: { wrongAmount: boolean }) => Answer;

  function route(operation: Operation, perform: Perform): RequestHandler {
    return (req, res) => {
      const raw = rawBodyOf(req);
      const checked = verifyMockRequest(config.secret, req.get(MOCK_SIGNATURE_HEADER), req.method, req.originalUrl, raw, new Date());
      if (!checked.ok) {
        write(res, failure(401, 'SIGN_ERROR', checked.detail), false);
        return;
      }
      answerWithFaults(context, res, { provider: 'mock', operation }, writer, (options) => perform(req, raw, options));
    };
  }

  function orderView(order: SimOrder, wrongAmount: boolean): Record<string, unknown> {
    return {
      out_trade_no: order.outTradeNo,
      status: statusWord(order),
      transaction_id: order.transactionId,
      amount: formatMinorAmount(order.amountMinor + (wrongAmount ? 1 : 0)),
    };
  }

  function refundView(refund: SimRefund, wrongAmount: boolean): Record<string, unknown> {
    return {
      out_refund_no: refund.outRefundNo,
      refund_id: refund.refundId,
      out_trade_no: refund.outTradeNo,
      amount: formatMinorAmount(refund.amountMinor + (wrongAmount ? 1 : 0)),
      status: refund.state,
    };
  }

  const createOrder: Perform = (_req, raw) => {
    const parsed = parseBodyWith(raw, orderSchema);
    if (!parsed.ok) return failure(400, 'INVALID_REQUEST', parsed.problem);
    const body = parsed.data;
    const amountMinor = positiveAmount(body.amount);
    if (amountMinor === null) return failure(400, 'INVALID_REQUEST', 'amount must be a positive yuan amount like "12.34"');
    const now = new Date();
    const expiresAt = body.time_expire === undefined ? null : parseRfc3339(body.time_expire);
    if (body.time_expire !== undefined && (expiresAt === null || expiresAt.getTime() <= now.getTime())) {
      return failure(400, 'INVALID_REQUEST', 'time_expire must be a future RFC 3339 time');
    }
    let order = ledger.order('mock', body.out_trade_no, now);
    if (order && order.amountMinor !== amountMinor) return failure(409, 'OUT_TRADE_NO_USED', 'the out_trade_no was used with another amount');
    if (!order) {
      order = newOrder(
        { provider: 'mock', outTradeNo: body.out_trade_no, amountMinor, description: body.description, channel: 'mock', notifyUrl: body.notify_url ?? null, expiresAt, payer: null },
        now,
      );
      ledger.add(order);
    }
    return { status: 200, body: { out_trade_no: order.outTradeNo, cashier_url: cashierUrl(context, 'mock', order.outTradeNo), status: statusWord(order) } };
  };

  const queryOrder: Perform = (req, _raw, { wrongAmount }) => {
    const order = ledger.order('mock', String(req.params.out_trade_no));
    return order ? { status: 200, body: orderView(order, wrongAmount) } : failure(404, 'ORDER_NOT_EXIST', 'no such order');
  };

  const closeOrder: Perform = (req) => {
    const order = ledger.order('mock', String(req.params.out_trade_no));
    if (order && (order.state === 'pending' || order.state === 'failed')) {
      order.state = 'closed';
      order.closedAt = new Date();
    }
    return { status: 204 };
  };

  const createRefund: Perform = (_req, raw, { wrongAmount }) => {
    const parsed = parseBodyWith(raw, refundSchema);
    if (!parsed.ok) return failure(400, 'INVALID_REQUEST', parsed.problem);
    const body = parsed.data;
    const amountMinor = positiveAmount(body.amount);
    if (amountMinor === null) return failure(400, 'INVALID_REQUEST', 'amount must be a positive yuan amount like "12.34"');
    const existing = ledger.refund('mock', body.out_refund_no);
    if (existing) {
      if (existing.outTradeNo !== body.out_trade_no || existing.amountMinor !== amountMinor) {
        return failure(409, 'OUT_REFUND_NO_USED', 'the out_refund_no was used for another refund');
      }
      return { status: 200, body: refundView(existing, wrongAmount) };
    }
    const order = ledger.order('mock', body.out_trade_no);
    if (!order) return failure(404, 'ORDER_NOT_EXIST', 'no such order');
    if (order.paidAt === null) return failure(409, 'ORDER_NOT_PAID', 'the order is not paid');
    if (refundedMinor(order) + amountMinor > order.amountMinor) return failure(409, 'NOT_ENOUGH', 'the refund exceeds what is left of the payment');
    const created = addRefund(
      order,
      { outRefundNo: body.out_refund_no, refundId: `mock_rfd_${randomText(20)}`, amountMinor, reason: body.reason, notifyUrl: null, settled: true },
      new Date(),
    );
    return { status: 200, body: refundView(created, wrongAmount) };
  };

  const queryRefund: Perform = (req, _raw, { wrongAmount }) => {
    const found = ledger.refund('mock', String(req.params.out_refund_no));
    return found ? { status: 200, body: refundView(found, wrongAmount) } : failure(404, 'REFUND_NOT_EXIST', 'no such refund');
  };

  function notifyPayment(order: SimOrder, mode: NotifyMode): void {
    const status = order.state === 'paid' ? 'SUCCESS' : 'FAILED';
    const body = {
      notification_id: `ntf_${randomUUID()}`,
      payment_id: order.outTradeNo,
      transaction_id: status === 'SUCCESS' ? order.transactionId : null,
      status,
      amount: formatMinorAmount(order.amountMinor),
    } as const;
    sendNotification(
      context,
      'mock',
      order.notifyUrl,
      {
        id: body.notification_id,
        event: status,
        retryDelaysS: WECHATPAY_RETRY_DELAYS_S,
        sign: (now) => signMockCallback(body, config.secret, now),
        acknowledged: acknowledgedBy2xx,
        records: order.notifications,
      },
      mode,
    );
  }

  const router = express.Router();
  router.use(readRawBody);
  router.post('/orders', route('open', createOrder));
  router.get('/orders/:out_trade_no', route('query', queryOrder));
  router.post('/orders/:out_trade_no/close', route('close', closeOrder));
  router.post('/refunds', route('refund', createRefund));
  router.get('/refunds/:out_refund_no', route('refund_query', queryRefund));
  router.use((_req, res) => write(res, failure(404, 'NOT_FOUND', 'no such API'), false));
  const onError: ErrorRequestHandler = (error: { type?: string }, _req, res, _next) => {
    write(res, error.type === 'entity.too.large' ? failure(413, 'INVALID_REQUEST', 'the body is too large') : failure(500, 'SYSTEM_ERROR', 'system error'), false);
  };
  router.use(onError);
  return { router, hooks: { notifyPayment } };
}
