import { type KeyObject, constants, createPrivateKey, createPublicKey, createSign, randomUUID, verify as verifySignature } from 'node:crypto';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response, type Router } from 'express';
import { z } from 'zod';
import { MAX_AMOUNT_MINOR } from '@pay/money';
import { signWechatpayCallback, signWechatpayRefundCallback } from '@pay/providers';
import { type ProviderHooks, type SimContext, cashierUrl, sendNotification, chinaRfc3339, parseRfc3339, randomDigits, randomText } from './context';
import { type Answer, type AnswerWriter, answerWithFaults, corruptBase64Signature, sendAnswerText } from './answers';
import type { Operation } from './faults';
import { type Channel, type RefundState, type SimOrder, type SimRefund, addRefund, newOrder, refundedMinor, statusWord } from './ledger';
import { NORMAL, type NotifyMode, type OutboundNotification, WECHATPAY_RETRY_DELAYS_S, acknowledgedBy2xx } from './notifier';
import { parseBodyWith, rawBodyOf, readRawBody } from './raw-body';

/**
 * WeChat Pay API v3 as a merchant meets it: requests authenticated with
 * `Authorization: WECHATPAY2-SHA256-RSA2048 ...` (SHA256withRSA under the merchant key over
 * "METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n"), every answer signed with the platform key over
 * "TIMESTAMP\nNONCE\nBODY\n" and named by Wechatpay-Serial (a PUB_KEY_ID_... in public-key mode).
 */

export interface WechatpaySimConfig {
  mchid: string;
  appid: string;
  apiV3Key: string;
  /** PKCS#8 PEM: signs answers and notifications */
  platformPrivateKey: string;
  /** e.g. PUB_KEY_ID_0114... (public-key mode) */
  platformSerial: string;
  /** SPKI PEM: verifies the merchant's requests */
  merchantPublicKey: string;
  merchantSerial: string;
}

const AUTH_SCHEME = 'WECHATPAY2-SHA256-RSA2048';
const CLOCK_TOLERANCE_S = 300;
const MAX_REFUNDS_PER_ORDER = 50;
/** A refund stays PROCESSING this long (time-scaled) unless a test decides it first. */
const REFUND_SETTLE_DELAY_S = 10;
const SIMULATED_OPENID = 'oSimulatedOpenId0000000000000';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const TRADE_STATE_DESC: Record<string, string> = {
  NOTPAY: '订单未支付',
  SUCCESS: '支付成功',
  REFUND: '转入退款',
  CLOSED: '订单已关闭',
  PAYERROR: '支付失败',
};

function isNotifyUrl(text: string): boolean {
  try {
    const url = new URL(text);
    // WeChat refuses a notify_url carrying parameters.
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.search === '' && url.hash === '';
  } catch {
    return false;
  }
}

const notifyUrl = z.string().max(256).refine(isNotifyUrl, 'must be an http(s) URL without a query string');
const fen = z.number().int().min(1).max(MAX_AMOUNT_MINOR);
const merchantId = z.string().min(1).max(32);

// Not strict: the real API takes many more optional fields (detail, scene_info, settle_info, ...).
const prepaySchema = z.object({
  appid: z.string().min(1).max(32),
  mchid: merchantId,
  description: z.string().min(1).max(127),
  out_trade_no: z.string().regex(/^[0-9A-Za-z_\-|*]{6,32}$/, 'must be 6-32 characters of 0-9 A-Z a-z _ - | *'),
  time_expire: z.string().max(64).optional(),
  attach: z.string().max(128).optional(),
  notify_url: notifyUrl.optional(),
  amount: z.object({ total: fen, currency: z.literal('CNY').optional() }),
  payer: z.object({ openid: z.string().min(1).max(128) }).optional(),
});

const closeSchema = z.object({ mchid: merchantId });

const refundSchema = z
  .object({
    out_trade_no: z.string().min(1).max(32).optional(),
    transaction_id: z.string().min(1).max(32).optional(),
    out_refund_no: z.string().regex(/^[0-9A-Za-z_\-|*@]{1,64}$/, 'must be 1-64 characters of 0-9 A-Z a-z _ - | * @'),
    reason: z.string().max(80).optional(),
    notify_url: notifyUrl.optional(),
    funds_account: z.string().max(32).optional(),
    amount: z.object({ refund: fen, total: fen, currency: z.literal('CNY') }),
  })
  .refine((body) => body.out_trade_no !== undefined || body.transaction_id !== undefined, {
    message: 'out_trade_no or transaction_id is required',
    path: ['out_trade_no'],
  });

function failure(status: number, code: string, message: string): Answer {
  return { status, body: { code, message } };
}

type AuthorizationFields = Record<'mchid' | 'nonce_str' | 'timestamp' | 'serial_no' | 'signature', string>;

function parseAuthorization(header: string | undefined): AuthorizationFields | null {
  if (header === undefined || !header.startsWith(`${AUTH_SCHEME} `)) return null;
  const fields = new Map<string, string>();
  for (const part of header.slice(AUTH_SCHEME.length + 1).split(',')) {
    const match = /^\s*([a-z_]+)="([^"]*)"\s*$/.exec(part);
    // A repeated field would leave open which value was checked.
    if (!match || fields.has(match[1]!)) return null;
    fields.set(match[1]!, match[2]!);
  }
  const mchid = fields.get('mchid');
  const nonce = fields.get('nonce_str');
  const timestamp = fields.get('timestamp');
  const serial = fields.get('serial_no');
  const signature = fields.get('signature');
  if (mchid === undefined || nonce === undefined || timestamp === undefined || serial === undefined || signature === undefined) return null;
  return { mchid, nonce_str: nonce, timestamp, serial_no: serial, signature };
}

/** The query string's single value of `name` (repeated → null: ambiguous). */
function queryValue(req: Request, name: string): string | null {
  const at = req.originalUrl.indexOf('?');
  const values = at === -1 ? [] : new URLSearchParams(req.originalUrl.slice(at + 1)).getAll(name);
  return values.length === 1 ? values[0]! : null;
}

export function createWechatpaySim(context: SimContext, config: WechatpaySimConfig): { router: Router; hooks: ProviderHooks } {
  const platformKey: KeyObject = createPrivateKey(config.platformPrivateKey);
  const merchantKey: KeyObject = createPublicKey(config.merchantPublicKey);
  const signingKeys = { apiV3Key: config.apiV3Key, platformPrivateKey: config.platformPrivateKey, serial: config.platformSerial };
  const { ledger } = context;

  function write(res: Response, answer: Answer, corruptSignature: boolean): void {
    const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomText(32);
    const signer = createSign('sha256');
    signer.update(`${timestamp}\n${nonce}\n${text}\n`, 'utf8');
    const signature = signer.sign({ key: platformKey, padding: constants.RSA_PKCS1_PADDING }, 'base64');
    res.status(answer.status).set({
      'Wechatpay-Timestamp': timestamp,
      'Wechatpay-Nonce': nonce,
      'Wechatpay-Signature': corruptSignature ? corruptBase64Signature(signature) : signature,
      'Wechatpay-Serial': config.platformSerial,
      'Request-ID': randomUUID(),
    });
    sendAnswerText(res, answer, text, context.log, 'wechatpay');
  }

  const writer: AnswerWriter = {
    send: (res, answer, options) => write(res, answer, options.corruptSignature),
    systemError: (res) => write(res, failure(500, 'SYSTEM_ERROR', '系统错误'), false),
  };

  /** null when the request is the merchant's; otherwise why not (always answered 401 SIGN_ERROR). */
  function authenticate(req: Request, raw: Buffer, now: Date): string | null {
    const auth = parseAuthorization(req.get('authorization'));
    if (auth === null) return `Authorization is missing or not ${AUTH_SCHEME} with mchid, nonce_str, timestamp, serial_no, signature`;
    if (auth.mchid !== config.mchid) return 'the mchid in Authorization is not a merchant here';
    if (auth.serial_no !== config.merchantSerial) return 'serial_no does not name the merchant key on file';
    if (!/^\d{1,12}$/.test(auth.timestamp) || Math.abs(now.getTime() / 1000 - Number(auth.timestamp)) > CLOCK_TOLERANCE_S) {
      return 'timestamp is more than 5 minutes off';
    }
    const message = Buffer.concat([
      Buffer.from(`${req.method}\n${req.originalUrl}\n${auth.timestamp}\n${auth.nonce_str}\n`, 'utf8'),
      raw,
      Buffer.from('\n', 'utf8'),
    ]);
    const authentic =
      auth.signature.length <= 1024 &&
      BASE64.test(auth.signature) &&
      verifySignature('sha256', message, { key: merchantKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(auth.signature, 'base64'));
    return authentic ? null : 'the signature does not verify with the merchant key';
  }

  type Perform = (req: Request, raw: Buffer, options: { wrongAmount: boolean }) => Answer;

  function route(operation: Operation, perform: Perform): RequestHandler {
    return (req, res) => {
      const raw = rawBodyOf(req);
      const problem = authenticate(req, raw, new Date());
      if (problem !== null) {
        write(res, failure(401, 'SIGN_ERROR', problem), false);
        return;
      }
      answerWithFaults(context, res, { provider: 'wechatpay', operation }, writer, (options) => perform(req, raw, options));
    };
  }

  function payerOpenid(order: SimOrder): string {
    return order.payer ?? SIMULATED_OPENID;
  }

  function transactionOf(order: SimOrder, wrongAmount: boolean): Record<string, unknown> {
    const state = statusWord(order);
    const total = order.amountMinor + (wrongAmount ? 1 : 0);
    const paid = order.paidAt !== null;
    return {
      appid: config.appid,
      mchid: config.mchid,
      out_trade_no: order.outTradeNo,
      ...(order.transactionId !== null ? { transaction_id: order.transactionId } : {}),
      trade_type: order.channel === 'jsapi' ? 'JSAPI' : 'NATIVE',
      trade_state: state,
      trade_state_desc: TRADE_STATE_DESC[state],
      ...(order.paidAt !== null ? { bank_type: 'OTHERS', success_time: chinaRfc3339(order.paidAt) } : {}),
      attach: '',
      ...(paid || order.payer !== null ? { payer: { openid: payerOpenid(order) } } : {}),
      amount: paid ? { total, payer_total: total, currency: 'CNY', payer_currency: 'CNY' } : { total, currency: 'CNY' },
    };
  }

  function refundOf(refund: SimRefund, order: SimOrder, wrongAmount: boolean): Record<string, unknown> {
    const amount = refund.amountMinor + (wrongAmount ? 1 : 0);
    return {
      refund_id: refund.refundId,
      out_refund_no: refund.outRefundNo,
      transaction_id: order.transactionId,
      out_trade_no: order.outTradeNo,
      channel: 'ORIGINAL',
      user_received_account: '支付用户零钱',
      ...(refund.state === 'SUCCESS' && refund.settledAt !== null ? { success_time: chinaRfc3339(refund.settledAt) } : {}),
      create_time: chinaRfc3339(refund.createdAt),
      status: refund.state,
      funds_account: 'AVAILABLE',
      amount: {
        total: order.amountMinor,
        refund: amount,
        payer_total: order.amountMinor,
        payer_refund: amount,
        settlement_total: order.amountMinor,
        settlement_refund: amount,
        discount_refund: 0,
        currency: 'CNY',
      },
    };
  }

  const prepay =
    (channel: Extract<Channel, 'jsapi' | 'native'>): Perform =>
    (_req, raw) => {
      const parsed = parseBodyWith(raw, prepaySchema);
      if (!parsed.ok) return failure(400, 'PARAM_ERROR', parsed.problem);
      const body = parsed.data;
      if (body.mchid !== config.mchid) return failure(400, 'MCH_NOT_EXISTS', '商户号不存在');
      if (body.appid !== config.appid) return failure(400, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');
      const openid = channel === 'jsapi' ? (body.payer?.openid ?? null) : null;
      if (channel === 'jsapi' && openid === null) return failure(400, 'PARAM_ERROR', 'payer.openid is required for JSAPI');
      const now = new Date();
      const expiresAt = body.time_expire === undefined ? null : parseRfc3339(body.time_expire);
      if (body.time_expire !== undefined && expiresAt === null) return failure(400, 'PARAM_ERROR', 'time_expire is not RFC 3339 (yyyy-MM-DDTHH:mm:ss+08:00)');
      if (expiresAt !== null && expiresAt.getTime() <= now.getTime()) return failure(400, 'PARAM_ERROR', 'time_expire has already passed');

      const existing = ledger.order('wechatpay', body.out_trade_no, now);
      if (existing) {
        // v3 has no ORDERPAID (that is a v2 XML code): a paid order is a TRADE_ERROR.
        if (existing.paidAt !== null) return failure(403, 'TRADE_ERROR', 'the order is already paid');
        if (existing.state === 'closed') return failure(400, 'ORDER_CLOSED', 'the order is closed');
        if (existing.state === 'failed') return failure(403, 'TRADE_ERROR', 'the order has failed');
        const same = existing.amountMinor === body.amount.total && existing.channel === channel && existing.description === body.description && existing.payer === openid;
        if (!same) return failure(403, 'OUT_TRADE_NO_USED', '商户订单号重复: the out_trade_no was used with other parameters');
      } else {
        ledger.add(
          newOrder(
            {
              provider: 'wechatpay',
              outTradeNo: body.out_trade_no,
              amountMinor: body.amount.total,
              description: body.description,
              channel,
              notifyUrl: body.notify_url ?? null,
              expiresAt,
              payer: openid,
            },
            now,
          ),
        );
      }
      // The same order opened again gets a fresh prepay_id, as the real one does.
      if (channel === 'jsapi') return { status: 200, body: { prepay_id: `wx${chinaRfc3339(now).replace(/\D/g, '').slice(0, 14)}${randomText(22)}` } };
      return { status: 200, body: { code_url: cashierUrl(context, 'wechatpay', body.out_trade_no) } };
    };

  const query: Perform = (req, _raw, { wrongAmount }) => {
    const merchant = queryValue(req, 'mchid');
    if (merchant === null) return failure(400, 'PARAM_ERROR', 'the query parameter mchid is required once');
    if (merchant !== config.mchid) return failure(400, 'MCH_NOT_EXISTS', '商户号不存在');
    const order = ledger.order('wechatpay', String(req.params.out_trade_no));
    if (!order) return failure(404, 'ORDER_NOT_EXIST', '订单不存在');
    return { status: 200, body: transactionOf(order, wrongAmount) };
  };

  const close: Perform = (req, raw) => {
    const parsed = parseBodyWith(raw, closeSchema);
    if (!parsed.ok) return failure(400, 'PARAM_ERROR', parsed.problem);
    if (parsed.data.mchid !== config.mchid) return failure(400, 'MCH_NOT_EXISTS', '商户号不存在');
    const order = ledger.order('wechatpay', String(req.params.out_trade_no));
    // 204 whatever the order's state, unknown included: a close proves nothing (query afterwards).
    if (order && (order.state === 'pending' || order.state === 'failed')) {
      order.state = 'closed';
      order.closedAt = new Date();
    }
    return { status: 204 };
  };

  /** WeChat Pay notifications: its retry schedule, acknowledged by any 2xx. */
  function notify(notifyUrl: string | null, notification: Pick<OutboundNotification, 'id' | 'event' | 'sign' | 'records'>, mode: NotifyMode): void {
    sendNotification(context, 'wechatpay', notifyUrl, { ...notification, retryDelaysS: WECHATPAY_RETRY_DELAYS_S, acknowledged: acknowledgedBy2xx }, mode);
  }

  function settleRefund(refund: SimRefund, state: Exclude<RefundState, 'PROCESSING'>, mode: NotifyMode): void {
    if (refund.state === 'SUCCESS' || refund.state === 'CLOSED') return;
    refund.state = state;
    // ABNORMAL is not final: the merchant must act, and the refund may still end either way.
    if (state !== 'ABNORMAL') refund.settledAt = new Date();
    context.log(`wechatpay refund ${refund.outRefundNo} → ${state}`);
    const order = ledger.order('wechatpay', refund.outTradeNo);
    if (!order) return;
    const id = randomUUID();
    const input = {
      notificationId: id,
      mchid: config.mchid,
      paymentId: order.outTradeNo,
      transactionId: order.transactionId ?? '',
      refundId: refund.outRefundNo,
      providerRefundId: refund.refundId,
      refundStatus: state,
      totalMinor: order.amountMinor,
      refundMinor: refund.amountMinor,
    };
    notify(refund.notifyUrl, { id, event: `REFUND.${state}`, sign: (now) => signWechatpayRefundCallback(input, signingKeys, now), records: refund.notifications }, mode);
  }

  const refund: Perform = (_req, raw, { wrongAmount }) => {
    const parsed = parseBodyWith(raw, refundSchema);
    if (!parsed.ok) return failure(400, 'PARAM_ERROR', parsed.problem);
    const body = parsed.data;
    const now = new Date();
    const order =
      body.out_trade_no !== undefined ? ledger.order('wechatpay', body.out_trade_no, now) : ledger.orderByTransaction('wechatpay', body.transaction_id ?? '', now);
    const existing = ledger.refund('wechatpay', body.out_refund_no);
    if (existing) {
      // The same out_refund_no is the same refund: never a second payout.
      if (!order || existing.outTradeNo !== order.outTradeNo || existing.amountMinor !== body.amount.refund) {
        return failure(400, 'INVALID_REQUEST', 'the out_refund_no was used for another refund');
      }
      return { status: 200, body: refundOf(existing, order, wrongAmount) };
    }
    if (!order || order.paidAt === null) return failure(404, 'RESOURCE_NOT_EXISTS', '订单不存在或未支付');
    if (body.amount.total !== order.amountMinor) return failure(400, 'PARAM_ERROR', 'amount.total is not the order total');
    if (order.refunds.length >= MAX_REFUNDS_PER_ORDER) return failure(403, 'RULE_LIMIT', `at most ${MAX_REFUNDS_PER_ORDER} refunds per order`);
    if (refundedMinor(order) + body.amount.refund > order.amountMinor) return failure(403, 'NOT_ENOUGH', '可退款金额不足');

    const created = addRefund(
      order,
      { outRefundNo: body.out_refund_no, refundId: `50${randomDigits(27)}`, amountMinor: body.amount.refund, reason: body.reason ?? '', notifyUrl: body.notify_url ?? null, settled: false },
      now,
    );
    // Accepted only: the result comes later, by notification or refund query.
    context.timers.later(REFUND_SETTLE_DELAY_S * 1000 * context.timeScale, () => {
      const planned = context.plannedRefundOutcomes.get(created.outRefundNo);
      context.plannedRefundOutcomes.delete(created.outRefundNo);
      settleRefund(created, planned?.state ?? 'SUCCESS', planned?.notify ?? NORMAL);
    });
    return { status: 200, body: refundOf(created, order, wrongAmount) };
  };

  const refundQuery: Perform = (req, _raw, { wrongAmount }) => {
    const found = ledger.refund('wechatpay', String(req.params.out_refund_no));
    const order = found ? ledger.order('wechatpay', found.outTradeNo) : undefined;
    if (!found || !order) return failure(404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
    return { status: 200, body: refundOf(found, order, wrongAmount) };
  };

  function notifyPayment(order: SimOrder, mode: NotifyMode): void {
    const tradeState = order.state === 'paid' ? 'SUCCESS' : 'PAYERROR';
    const id = randomUUID();
    const input = {
      notificationId: id,
      paymentId: order.outTradeNo,
      transactionId: order.transactionId ?? '',
      tradeState,
      amountMinor: order.amountMinor,
      mchid: config.mchid,
      appid: config.appid,
      tradeType: order.channel === 'jsapi' ? 'JSAPI' : 'NATIVE',
      payerOpenid: payerOpenid(order),
    } as const;
    notify(order.notifyUrl, { id, event: `TRANSACTION.${tradeState}`, sign: (now) => signWechatpayCallback(input, signingKeys, now), records: order.notifications }, mode);
  }

  const router = express.Router();
  router.use(readRawBody);
  router.post('/pay/transactions/jsapi', route('open', prepay('jsapi')));
  router.post('/pay/transactions/native', route('open', prepay('native')));
  router.get('/pay/transactions/out-trade-no/:out_trade_no', route('query', query));
  router.post('/pay/transactions/out-trade-no/:out_trade_no/close', route('close', close));
  router.post('/refund/domestic/refunds', route('refund', refund));
  router.get('/refund/domestic/refunds/:out_refund_no', route('refund_query', refundQuery));
  router.use((_req, res) => write(res, failure(404, 'NOT_FOUND', 'no such API in the simulator'), false));
  const onError: ErrorRequestHandler = (error: { status?: number; type?: string }, _req, res, _next) => {
    const tooLarge = error.type === 'entity.too.large';
    write(res, tooLarge ? failure(400, 'PARAM_ERROR', 'the body is too large') : failure(500, 'SYSTEM_ERROR', '系统错误'), false);
  };
  router.use(onError);

  return { router, hooks: { notifyPayment, settleRefund } };
}
