import { type KeyObject, constants, createPrivateKey, createPublicKey, createSign, randomUUID, verify as verifySignature } from 'node:crypto';
import express, { type ErrorRequestHandler, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { MAX_AMOUNT_MINOR, formatMinorAmount, parseDecimalAmount } from '@pay/money';
import { signAlipayCallback } from '@pay/providers';
import { type ProviderHooks, type SimContext, cashierUrl, chinaDateTime, newTransactionId, parseChinaDateTime, sendNotification } from './context';
import { type Answer, type AnswerWriter, answerWithFaults, corruptBase64Signature } from './answers';
import type { Operation } from './faults';
import { type SimOrder, addRefund, newOrder, refundedMinor, statusWord } from './ledger';
import { ALIPAY_RETRY_DELAYS_S, type NotifyMode } from './notifier';
import { describeIssues, rawBodyOf, readRawBody } from './raw-body';

/**
 * The Alipay open API v2 gateway (`gateway.do`). alipay-sdk 4.x `exec()` sends the common parameters in
 * the query string and biz_content in a form body, signed over every parameter but `sign` (sign_type
 * included), sorted, as k=v&...; the answer is `{"<method>_response": {...}, "sign": "..."}` signed over
 * the exact JSON text of the `_response` value.
 */

export interface AlipaySimConfig {
  appId: string;
  /** The simulator's (Alipay's) key, PKCS#8 PEM: signs answers and notifications */
  privateKey: string;
  /** Our app's public key, SPKI PEM: verifies its requests */
  appPublicKey: string;
}

const OPERATION_OF_METHOD: Record<string, Operation> = {
  'alipay.trade.create': 'open',
  'alipay.trade.precreate': 'open',
  'alipay.trade.query': 'query',
  'alipay.trade.close': 'close',
  'alipay.trade.refund': 'refund',
  'alipay.trade.fastpay.refund.query': 'refund_query',
};

const MAX_PARAMS = 100;
/** Alipay's single-payment ceiling: 100,000,000.00 yuan. */
const MAX_TRADE_MINOR = Math.min(MAX_AMOUNT_MINOR, 10_000_000_000);

const outTradeNo = z.string().regex(/^[0-9A-Za-z_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -');
const yuan = z.string().max(16);

const createSchema = z.object({
  out_trade_no: outTradeNo,
  total_amount: yuan,
  subject: z.string().min(1).max(256),
  product_code: z.string().max(64).optional(),
  buyer_open_id: z.string().min(1).max(128).optional(),
  buyer_id: z.string().min(1).max(28).optional(),
  op_app_id: z.string().max(32).optional(),
  time_expire: z.string().max(32).optional(),
});

const tradeRef = { out_trade_no: outTradeNo.optional(), trade_no: z.string().min(1).max(64).optional() };
const needsTradeRef = { message: 'out_trade_no or trade_no is required', path: ['out_trade_no'] };
const hasTradeRef = (body: { out_trade_no?: string; trade_no?: string }) => body.out_trade_no !== undefined || body.trade_no !== undefined;

const tradeRefSchema = z.object(tradeRef).refine(hasTradeRef, needsTradeRef);
const refundSchema = z
  .object({ ...tradeRef, refund_amount: yuan, out_request_no: z.string().min(1).max(64).optional(), refund_reason: z.string().max(256).optional() })
  .refine(hasTradeRef, needsTradeRef);
const refundQuerySchema = z.object({ ...tradeRef, out_request_no: z.string().min(1).max(64) }).refine(hasTradeRef, needsTradeRef);

type Body = Record<string, unknown>;

function success(fields: Body): Body {
  return { code: '10000', msg: 'Success', ...fields };
}

function businessFailure(subCode: string, subMsg: string, fields: Body = {}): Body {
  return { code: '40004', msg: 'Business Failed', sub_code: subCode, sub_msg: subMsg, ...fields };
}

function missing(subCode: string, subMsg: string): Body {
  return { code: '40001', msg: 'Missing Required Arguments', sub_code: subCode, sub_msg: subMsg };
}

function invalid(subCode: string, subMsg: string): Body {
  return { code: '40002', msg: 'Invalid Arguments', sub_code: subCode, sub_msg: subMsg };
}

/** The amount in fen when it is a yuan string with at most two decimals within Alipay's limits. */
function tradeAmount(text: string): number | null {
  const minor = parseDecimalAmount(text);
  return minor !== null && minor >= 1 && minor <= MAX_TRADE_MINOR ? minor : null;
}

/**
 * Query string and form body merged into one parameter set. A name given twice (in either place or
 * across both) is refused: the signed value and the used value could differ.
 */
function readParams(req: Request): Map<string, string> | string {
  const params = new Map<string, string>();
  const sources: string[] = [];
  const at = req.originalUrl.indexOf('?');
  if (at !== -1) sources.push(req.originalUrl.slice(at + 1));
  const raw = rawBodyOf(req);
  if (raw.length > 0) {
    if (!req.is('application/x-www-form-urlencoded')) return 'the body must be application/x-www-form-urlencoded';
    sources.push(raw.toString('utf8'));
  }
  for (const source of sources) {
    for (const [key, value] of new URLSearchParams(source)) {
      if (params.has(key)) return `parameter ${key} is given twice`;
      params.set(key, value);
      if (params.size > MAX_PARAMS) return 'too many parameters';
    }
  }
  return params;
}

/** The signed content of a request: every parameter but sign, sorted by name, as k=v joined by &. */
function requestSignContent(params: Map<string, string>, withEmptyValues: boolean): string {
  return [...params.entries()]
    .filter(([key, value]) => key !== 'sign' && (withEmptyValues || value !== ''))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

export function createAlipaySim(context: SimContext, config: AlipaySimConfig): { router: Router; hooks: ProviderHooks } {
  const alipayKey: KeyObject = createPrivateKey(config.privateKey);
  const appKey: KeyObject = createPublicKey(config.appPublicKey);
  const { ledger } = context;

  function sign(text: string): string {
    const signer = createSign('sha256');
    signer.update(text, 'utf8');
    return signer.sign({ key: alipayKey, padding: constants.RSA_PKCS1_PADDING }, 'base64');
  }

  /** `{"<key>":<value>,"sign":"..."}` with the value's text signed exactly as written. */
  function write(res: Response, key: string, status: number, value: Body, corruptSignature: boolean): void {
    const valueText = JSON.stringify(value);
    const signature = sign(valueText);
    const text = `{"${key}":${valueText},"sign":"${corruptSignature ? corruptBase64Signature(signature) : signature}"}`;
    context.log(`alipay ${key.replace(/_response$/, '')} → ${status} ${String(value.code)}${value.sub_code ? ` ${String(value.sub_code)}` : ''}`);
    res.status(status).type('application/json').send(Buffer.from(text, 'utf8'));
  }

  function authenticate(params: Map<string, string>): Body | null {
    if (!params.get('app_id')) return missing('isv.missing-app-id', '缺少AppID参数');
    if (params.get('app_id') !== config.appId) return invalid('isv.invalid-app-id', '无效的AppID参数');
    if (!params.get('sign')) return missing('isv.missing-signature', '缺少签名参数');
    if (!params.get('sign_type')) return missing('isv.missing-signature-type', '缺少签名类型参数');
    if (params.get('sign_type') !== 'RSA2') return invalid('isv.invalid-signature-type', '无效的签名类型');
    const charset = params.get('charset');
    if (charset !== undefined && charset.toLowerCase() !== 'utf-8') return invalid('isv.invalid-charset', '字符集错误');
    const format = params.get('format');
    if (format !== undefined && format.toUpperCase() !== 'JSON') return invalid('isv.invalid-format', '无效的数据格式');
    if (!params.get('timestamp')) return missing('isv.missing-timestamp', '缺少时间戳参数');
    if (parseChinaDateTime(params.get('timestamp') ?? '') === null) return invalid('isv.invalid-timestamp', '非法的时间戳参数');
    const signature = Buffer.from(params.get('sign') ?? '', 'base64');
    const verifies = (content: string) =>
      verifySignature('sha256', Buffer.from(content, 'utf8'), { key: appKey, padding: constants.RSA_PKCS1_PADDING }, signature);
    // alipay-sdk signs empty values too, Alipay's documentation leaves them out: either was signed by the key holder.
    const authentic = verifies(requestSignContent(params, true)) || verifies(requestSignContent(params, false));
    return authentic ? null : invalid('isv.invalid-signature', '验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配');
  }

  function parseBiz<T>(params: Map<string, string>, schema: z.ZodType<T>): { ok: true; data: T } | { ok: false; answer: Body } {
    let json: unknown;
    try {
      json = JSON.parse(params.get('biz_content') ?? '');
    } catch {
      return { ok: false, answer: missing('isv.missing-biz-content', 'biz_content is missing or not JSON') };
    }
    const parsed = schema.safeParse(json);
    return parsed.success ? { ok: true, data: parsed.data } : { ok: false, answer: businessFailure('ACQ.INVALID_PARAMETER', `参数无效: ${describeIssues(parsed.error)}`) };
  }

  /** A trade as the buyer-facing API knows it: an unopened precreate order does not exist yet. */
  function visibleTrade(ref: { out_trade_no?: string; trade_no?: string }): SimOrder | null {
    const order = ref.out_trade_no !== undefined ? ledger.order('alipay', ref.out_trade_no) : ledger.orderByTransaction('alipay', ref.trade_no ?? '');
    if (!order || !order.opened) return null;
    if (ref.trade_no !== undefined && order.transactionId !== ref.trade_no) return null;
    return order;
  }

  const notExist = () => businessFailure('ACQ.TRADE_NOT_EXIST', '交易不存在');

  function open(method: 'alipay.trade.create' | 'alipay.trade.precreate', params: Map<string, string>): Body {
    const parsed = parseBiz(params, createSchema);
    if (!parsed.ok) return parsed.answer;
    const biz = parsed.data;
    const amountMinor = tradeAmount(biz.total_amount);
    if (amountMinor === null) return businessFailure('ACQ.INVALID_PARAMETER', '参数无效: total_amount must be 0.01-100000000.00 with at most two decimals');
    const channel = method === 'alipay.trade.create' ? 'alipay_jsapi' : 'precreate';
    const buyer = biz.buyer_open_id ?? biz.buyer_id ?? null;
    if (channel === 'alipay_jsapi') {
      if (buyer === null) return businessFailure('ACQ.INVALID_PARAMETER', '参数无效: buyer_open_id or buyer_id is required');
      if (biz.product_code !== undefined && !['JSAPI_PAY', 'FACE_TO_FACE_PAYMENT'].includes(biz.product_code)) {
        return businessFailure('ACQ.INVALID_PARAMETER', '参数无效: product_code');
      }
    } else if (biz.product_code !== undefined && !['FACE_TO_FACE_PAYMENT', 'QR_CODE_OFFLINE'].includes(biz.product_code)) {
      return businessFailure('ACQ.INVALID_PARAMETER', '参数无效: product_code');
    }
    const now = new Date();
    const expiresAt = biz.time_expire === undefined ? null : parseChinaDateTime(biz.time_expire);
    if (biz.time_expire !== undefined && (expiresAt === null || expiresAt.getTime() <= now.getTime())) {
      return businessFailure('ACQ.INVALID_PARAMETER', '参数无效: time_expire must be a future "yyyy-MM-dd HH:mm:ss"');
    }

    let order = ledger.order('alipay', biz.out_trade_no, now);
    if (order) {
      if (order.paidAt !== null) return businessFailure('ACQ.TRADE_HAS_SUCCESS', '交易已被支付');
      if (order.state === 'closed') return businessFailure('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
      if (order.amountMinor !== amountMinor || order.channel !== channel || order.description !== biz.subject || order.payer !== buyer) {
        return businessFailure('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改');
      }
    } else {
      order = newOrder(
        { provider: 'alipay', outTradeNo: biz.out_trade_no, amountMinor, description: biz.subject, channel, notifyUrl: params.get('notify_url') || null, expiresAt, payer: buyer },
        now,
      );
      // trade.create makes the trade at once; a precreate QR code becomes a trade when the buyer scans it.
      if (channel === 'alipay_jsapi') order.transactionId = newTransactionId('alipay', now);
      else order.opened = false;
      ledger.add(order);
    }
    if (channel === 'alipay_jsapi') return success({ out_trade_no: order.outTradeNo, trade_no: order.transactionId });
    return success({ out_trade_no: order.outTradeNo, qr_code: cashierUrl(context, 'alipay', order.outTradeNo) });
  }

  function query(params: Map<string, string>, wrongAmount: boolean): Body {
    const parsed = parseBiz(params, tradeRefSchema);
    if (!parsed.ok) return parsed.answer;
    const order = visibleTrade(parsed.data);
    if (!order) return notExist();
    const total = formatMinorAmount(order.amountMinor + (wrongAmount ? 1 : 0));
    return success({
      trade_no: order.transactionId,
      out_trade_no: order.outTradeNo,
      trade_status: statusWord(order),
      total_amount: total,
      ...(order.paidAt !== null
        ? { buyer_pay_amount: total, receipt_amount: total, send_pay_date: chinaDateTime(order.paidAt), buyer_logon_id: 'sim***@example.com' }
        : {}),
      ...(order.payer !== null ? { buyer_open_id: order.payer } : {}),
    });
  }

  function close(params: Map<string, string>): Body {
    const parsed = parseBiz(params, tradeRefSchema);
    if (!parsed.ok) return parsed.answer;
    const order = visibleTrade(parsed.data);
    if (!order) return notExist();
    if (order.state !== 'pending' && order.state !== 'failed') return businessFailure('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
    order.state = 'closed';
    order.closedAt = new Date();
    return success({ trade_no: order.transactionId, out_trade_no: order.outTradeNo });
  }

  function refund(params: Map<string, string>, wrongAmount: boolean): Body {
    const parsed = parseBiz(params, refundSchema);
    if (!parsed.ok) return parsed.answer;
    const biz = parsed.data;
    const amountMinor = tradeAmount(biz.refund_amount);
    if (amountMinor === null) return businessFailure('ACQ.INVALID_PARAMETER', '参数无效: refund_amount');
    const order = visibleTrade(biz);
    if (!order) return notExist();
    // Without out_request_no the refund is named by the trade (and may only be the whole amount).
    const requestNo = biz.out_request_no ?? order.outTradeNo;
    const repeated = order.refunds.find((earlier) => earlier.outRefundNo === requestNo);
    if (repeated) {
      if (repeated.amountMinor !== amountMinor || repeated.firstAnswer === null) return businessFailure('ACQ.DISCORDANT_REPEAT_REQUEST', '请求信息不一致');
      return withRefundFee(repeated.firstAnswer, wrongAmount);
    }
    if (order.paidAt === null || order.state === 'closed') return businessFailure('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
    if (biz.out_request_no === undefined && amountMinor !== order.amountMinor) {
      return businessFailure('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额不等于交易金额: a partial refund needs out_request_no');
    }
    const already = refundedMinor(order);
    if (already + amountMinor > order.amountMinor) return businessFailure('ACQ.REASON_TRADE_REFUND_FEE_ERR', '退款金额超限');

    const now = new Date();
    const created = addRefund(
      order,
      { outRefundNo: requestNo, refundId: order.transactionId ?? '', amountMinor, reason: biz.refund_reason ?? '', notifyUrl: null, settled: true },
      now,
    );
    // A trade refunded in full is closed.
    if (already + amountMinor === order.amountMinor) {
      order.state = 'closed';
      order.closedAt = now;
    }
    // refund_fee is the trade's refunded total so far, not this refund's amount.
    created.firstAnswer = success({
      trade_no: order.transactionId,
      out_trade_no: order.outTradeNo,
      buyer_logon_id: 'sim***@example.com',
      fund_change: 'Y',
      refund_fee: formatMinorAmount(already + amountMinor),
      send_back_fee: formatMinorAmount(amountMinor),
      gmt_refund_pay: chinaDateTime(now),
    });
    return withRefundFee(created.firstAnswer, wrongAmount);
  }

  function withRefundFee(answer: Body, wrongAmount: boolean): Body {
    if (!wrongAmount) return answer;
    return { ...answer, refund_fee: formatMinorAmount((parseDecimalAmount(String(answer.refund_fee)) ?? 0) + 1) };
  }

  function refundQuery(params: Map<string, string>, wrongAmount: boolean): Body {
    const parsed = parseBiz(params, refundQuerySchema);
    if (!parsed.ok) return parsed.answer;
    const order = visibleTrade(parsed.data);
    if (!order) return notExist();
    const found = order.refunds.find((earlier) => earlier.outRefundNo === parsed.data.out_request_no);
    // An unknown refund is a success without refund_status: "not received or failed".
    if (!found) return success({ trade_no: order.transactionId, out_trade_no: order.outTradeNo, out_request_no: parsed.data.out_request_no });
    return success({
      trade_no: order.transactionId,
      out_trade_no: order.outTradeNo,
      out_request_no: found.outRefundNo,
      total_amount: formatMinorAmount(order.amountMinor),
      refund_amount: formatMinorAmount(found.amountMinor + (wrongAmount ? 1 : 0)),
      refund_status: 'REFUND_SUCCESS',
      gmt_refund_pay: chinaDateTime(found.createdAt),
    });
  }

  function perform(method: string, params: Map<string, string>, wrongAmount: boolean): Body {
    switch (method) {
      case 'alipay.trade.create':
      case 'alipay.trade.precreate':
        return open(method, params);
      case 'alipay.trade.query':
        return query(params, wrongAmount);
      case 'alipay.trade.close':
        return close(params);
      case 'alipay.trade.refund':
        return refund(params, wrongAmount);
      default:
        return refundQuery(params, wrongAmount);
    }
  }

  function gateway(req: Request, res: Response): void {
    const params = readParams(req);
    if (typeof params === 'string') {
      write(res, 'error_response', 200, invalid('isv.invalid-parameter', params), false);
      return;
    }
    const method = params.get('method');
    if (!method) {
      write(res, 'error_response', 200, missing('isv.missing-method', '缺少方法名参数'), false);
      return;
    }
    const operation = OPERATION_OF_METHOD[method];
    const key = operation === undefined ? 'error_response' : `${method.replace(/\./g, '_')}_response`;
    const refused = authenticate(params);
    if (refused !== null) {
      write(res, key, 200, refused, false);
      return;
    }
    if (operation === undefined) {
      write(res, key, 200, invalid('isv.invalid-method', '不存在的方法名'), false);
      return;
    }
    const writer: AnswerWriter = {
      send: (response, answer, options) => write(response, key, answer.status, answer.body ?? {}, options.corruptSignature),
      systemError: (response, fault) =>
        fault === 'http_500'
          ? write(response, key, 500, { code: '20000', msg: 'Service Currently Unavailable', sub_code: 'isp.unknow-error', sub_msg: '系统繁忙' }, false)
          : write(response, key, 200, businessFailure('ACQ.SYSTEM_ERROR', '系统错误'), false),
    };
    answerWithFaults(context, res, { provider: 'alipay', operation }, writer, ({ wrongAmount }): Answer => ({ status: 200, body: perform(method, params, wrongAmount) }));
  }

  function notifyPayment(order: SimOrder, mode: NotifyMode): void {
    // Alipay notifies trade status changes only: a failed attempt leaves the trade waiting and sends nothing.
    if (order.state !== 'paid') return;
    const notifyId = randomUUID().replace(/-/g, '');
    const input = {
      notifyId,
      paymentId: order.outTradeNo,
      tradeNo: order.transactionId ?? '',
      tradeStatus: 'TRADE_SUCCESS',
      totalAmount: formatMinorAmount(order.amountMinor),
      appId: config.appId,
    } as const;
    sendNotification(
      context,
      'alipay',
      order.notifyUrl,
      {
        id: notifyId,
        event: 'trade_status_sync TRADE_SUCCESS',
        retryDelaysS: ALIPAY_RETRY_DELAYS_S,
        sign: (now) => signAlipayCallback(input, config.privateKey, now),
        // Alipay reads only the body: exactly "success" stops its retries.
        acknowledged: (_status, body) => body === 'success',
        records: order.notifications,
      },
      mode,
    );
  }

  const router = express.Router();
  router.use(readRawBody);
  router.get('/', gateway);
  router.post('/', gateway);
  const onError: ErrorRequestHandler = (_error, _req, res, _next) => {
    write(res, 'error_response', 200, invalid('isv.invalid-parameter', 'the request could not be read'), false);
  };
  router.use(onError);
  return { router, hooks: { notifyPayment } };
}
