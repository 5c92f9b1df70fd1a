import { createPrivateKey, createPublicKey } from 'node:crypto';
import { AlipayRequestError, AlipaySdk } from 'alipay-sdk';
import { formatMinorAmount } from '@pay/money';
import { mapStatusWord, optionalText, parseJsonObject, readDecimalAmount, requiredText } from './answers';
import { chinaDateTime } from '@pay/providers';
import { badSignatureError, classifyAlipayError, malformedAnswerError, safeCode, transportError } from './errors';
import { checkOpenRequest, checkRefundRequest, cutText } from './request-checks';
import {
  type OpenRequest,
  type OpenedOrder,
  type PayChannel,
  type ProviderClient,
  ProviderError,
  type RefundRequest,
  type RefundStatus,
  type TradeStatus,
} from './types';

/**
 * Alipay open API (v2 gateway) on the official alipay-sdk: `exec` signs the request (RSA2) and, with
 * validateSign, verifies the answer's `sign` over the raw `*_response` text. A business failure
 * (20000, 40004, ...) resolves as `{code, subCode, ...}` (camelCased); transport failures, non-200
 * statuses, unparseable answers and bad signatures throw AlipayRequestError.
 */

export interface AlipayClientConfig {
  appId: string;
  /** PKCS#8 or PKCS#1 PEM. */
  appPrivateKey: string;
  /** SPKI (or PKCS#1) PEM. */
  alipayPublicKey: string;
  /** Default https://openapi.alipay.com/gateway.do */
  gatewayUrl?: string;
  notifyUrl: string;
  /** Default 10000 */
  timeoutMs?: number;
}

const CHANNELS = ['precreate', 'alipay_jsapi'] as const satisfies readonly PayChannel[];
const SUBJECT_MAX_CHARS = 256;
const REFUND_REASON_MAX_CHARS = 256;
const SUCCESS = '10000';

const TRADE_STATES: Record<string, TradeStatus['state']> = {
  WAIT_BUYER_PAY: 'pending',
  TRADE_SUCCESS: 'paid',
  TRADE_FINISHED: 'paid',
  TRADE_CLOSED: 'closed',
};

/** An answer whose signature verified: its code, sub_code and (camelCased) fields. */
interface Answer {
  code: string;
  subCode: string | undefined;
  fields: Record<string, unknown>;
}

function normalizeKeys(config: AlipayClientConfig): { privateKey: string; publicKey: string } {
  const fail = (what: string): never => {
    throw new ProviderError('alipay', 'misconfigured', 'invalid_config', what);
  };
  if (typeof config.appId !== 'string' || config.appId === '') fail('appId is required');
  if (typeof config.notifyUrl !== 'string' || config.notifyUrl === '') fail('notifyUrl is required');
  // The SDK rewraps a PEM by the keyType it is told; PKCS#8/SPKI always, so either input form works.
  try {
    const privateKey = createPrivateKey(config.appPrivateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
    const publicKey = createPublicKey(config.alipayPublicKey).export({ type: 'spki', format: 'pem' }).toString();
    return { privateKey, publicKey };
  } catch {
    return fail('appPrivateKey / alipayPublicKey must be PEM RSA keys');
  }
}

export function createAlipayClient(config: AlipayClientConfig): ProviderClient {
  const keys = normalizeKeys(config);
  const sdk = new AlipaySdk({
    appId: config.appId,
    privateKey: keys.privateKey,
    keyType: 'PKCS8',
    alipayPublicKey: keys.publicKey,
    signType: 'RSA2',
    gateway: config.gatewayUrl ?? 'https://openapi.alipay.com/gateway.do',
    timeout: config.timeoutMs ?? 10_000,
    camelcase: true,
  });

  /**
   * The SDK cuts the signed text at `<method>_response`, so a correctly signed `error_response` fails its
   * check; verify that one with the SDK's own functions at the right key.
   */
  function verifiedErrorResponse(raw: unknown): Answer | null {
    const envelope = parseJsonObject(raw);
    const inner = envelope?.error_response as Record<string, unknown> | undefined;
    if (typeof raw !== 'string' || typeof inner !== 'object' || inner === null || typeof envelope?.sign !== 'string') return null;
    if (!sdk.rsaCheck(sdk.getSignStr(raw, 'error_response'), envelope.sign, 'RSA2')) return null;
    return { code: String(inner.code ?? ''), subCode: safeCode(inner.sub_code), fields: {} };
  }

  async function call(operation: string, method: string, bizContent: Record<string, unknown>, withNotify = false): Promise<Answer> {
    let result: Record<string, unknown>;
    try {
      const params = withNotify ? { bizContent, notify_url: config.notifyUrl } : { bizContent };
      result = (await sdk.exec(method, params, { validateSign: true })) as unknown as Record<string, unknown>;
    } catch (error) {
      throw classifyExecFailure(operation, error);
    }
    if (typeof result !== 'object' || result === null || typeof result.code !== 'string') {
      throw malformedAnswerError('alipay', operation, 'no code');
    }
    return { code: result.code, subCode: safeCode(result.subCode), fields: result };
  }

  function classifyExecFailure(operation: string, error: unknown): ProviderError {
    if (!(error instanceof AlipayRequestError)) {
      const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
      // A missing `sign` makes node:crypto throw a TypeError (another realm under jest: no instanceof) in the SDK's check.
      if (name === 'TypeError' && typeof message === 'string' && /signature/i.test(message)) return badSignatureError('alipay', operation);
      return new ProviderError('alipay', 'unknown', 'unexpected_error', `${operation}: ${typeof name === 'string' ? name : 'error'}`);
    }
    // The SDK wraps both transport failures and JSON.parse's SyntaxError as a cause.
    const causeName = (error.cause as { name?: unknown } | undefined)?.name;
    if (causeName === 'SyntaxError') return malformedAnswerError('alipay', operation, 'not JSON');
    if (error.cause !== undefined) return transportError('alipay', operation, error.cause);
    const status = /status: (\d{3})/.exec(error.message)?.[1];
    if (status !== undefined) {
      const kind = status.startsWith('5') ? 'retryable' : 'unknown';
      return new ProviderError('alipay', kind, `http_${status}`, `${operation}: HTTP ${status}`);
    }
    // The SDK's verification failures say 验签 ("verify signature").
    if (error.message.includes('验签')) {
      const answer = verifiedErrorResponse(error.responseDataRaw);
      return answer === null ? badSignatureError('alipay', operation) : businessError(operation, answer);
    }
    return malformedAnswerError('alipay', operation, 'not an Alipay answer');
  }

  function businessError(operation: string, answer: Answer): ProviderError {
    const code = answer.subCode ?? (safeCode(answer.code) || 'no_code');
    return new ProviderError('alipay', classifyAlipayError(answer.code, answer.subCode), code, `${operation}: ${safeCode(answer.code) ?? '?'} ${answer.subCode ?? ''}`.trim());
  }

  function expectSuccess(operation: string, answer: Answer): Record<string, unknown> {
    if (answer.code !== SUCCESS) throw businessError(operation, answer);
    return answer.fields;
  }

  async function queryRefund(paymentId: string, refundId: string): Promise<RefundStatus> {
    const answer = await call('refund_query', 'alipay.trade.fastpay.refund.query', { out_trade_no: paymentId, out_request_no: refundId });
    if (answer.code !== SUCCESS && answer.subCode === 'ACQ.TRADE_NOT_EXIST') {
      return { state: 'not_found', providerRefundId: null, amountMinor: null, providerState: 'ACQ.TRADE_NOT_EXIST' };
    }
    const fields = expectSuccess('refund_query', answer);
    const refundStatus = fields.refundStatus;
    // Alipay's rule: no refund_status means the refund was not received (or failed).
    if (refundStatus === undefined || refundStatus === null || refundStatus === '') {
      return { state: 'not_found', providerRefundId: null, amountMinor: null, providerState: 'NO_REFUND_STATUS' };
    }
    if (refundStatus !== 'REFUND_SUCCESS') throw malformedAnswerError('alipay', 'refund_query', 'refund_status');
    return { state: 'succeeded', providerRefundId: null, amountMinor: readDecimalAmount('alipay', 'refund_query', fields.refundAmount), providerState: refundStatus };
  }

  return {
    provider: 'alipay',
    channels: CHANNELS,

    async open(request: OpenRequest): Promise<OpenedOrder> {
      checkOpenRequest('alipay', CHANNELS, request);
      const common = {
        out_trade_no: request.paymentId,
        total_amount: formatMinorAmount(request.amountMinor),
        subject: cutText(request.description, SUBJECT_MAX_CHARS),
        time_expire: chinaDateTime(request.expiresAt),
      };
      if (request.channel === 'precreate') {
        const fields = expectSuccess('open', await call('open', 'alipay.trade.precreate', common, true));
        return { channel: 'precreate', payParams: { qr_code: requiredText('alipay', 'open', fields.qrCode, 'qr_code') }, providerOrderId: null };
      }
      const bizContent = { ...common, product_code: 'JSAPI_PAY', op_app_id: config.appId, buyer_open_id: request.payer?.buyer_open_id };
      const fields = expectSuccess('open', await call('open', 'alipay.trade.create', bizContent, true));
      const tradeNo = requiredText('alipay', 'open', fields.tradeNo, 'trade_no');
      return { channel: 'alipay_jsapi', payParams: { trade_no: tradeNo }, providerOrderId: tradeNo };
    },

    async query(paymentId: string): Promise<TradeStatus> {
      const answer = await call('query', 'alipay.trade.query', { out_trade_no: paymentId });
      // Also what Alipay says before the buyer has scanned or opened the order.
      if (answer.code !== SUCCESS && answer.subCode === 'ACQ.TRADE_NOT_EXIST') {
        return { state: 'not_found', transactionId: null, amountMinor: null, providerState: 'ACQ.TRADE_NOT_EXIST' };
      }
      const fields = expectSuccess('query', answer);
      const { state, word } = mapStatusWord('alipay', 'query', TRADE_STATES, fields.tradeStatus, 'trade_status');
      return { state, transactionId: optionalText(fields.tradeNo), amountMinor: readDecimalAmount('alipay', 'query', fields.totalAmount), providerState: word };
    },

    async close(paymentId: string): Promise<void> {
      const answer = await call('close', 'alipay.trade.close', { out_trade_no: paymentId });
      // Never opened by the buyer: nothing to close. Already paid or closed: the caller queries next.
      if (answer.subCode === 'ACQ.TRADE_NOT_EXIST' || answer.subCode === 'ACQ.TRADE_STATUS_ERROR') return;
      expectSuccess('close', answer);
    },

    async refund(request: RefundRequest): Promise<RefundStatus> {
      checkRefundRequest('alipay', request);
      // out_request_no always, full refunds too: it is what makes a retry the same refund.
      const answer = await call('refund', 'alipay.trade.refund', {
        out_trade_no: request.paymentId,
        refund_amount: formatMinorAmount(request.amountMinor),
        out_request_no: request.refundId,
        refund_reason: cutText(request.reason, REFUND_REASON_MAX_CHARS),
      });
      const fields = expectSuccess('refund', answer);
      // refund_fee in this answer is the trade's refunded total, not this refund's amount.
      if (fields.fundChange === 'Y') return { state: 'succeeded', providerRefundId: null, amountMinor: null, providerState: 'fund_change=Y' };
      // A repeated request moves no funds (fund_change N) even when the refund did succeed: ask.
      try {
        const confirmed = await queryRefund(request.paymentId, request.refundId);
        if (confirmed.state === 'succeeded') return confirmed;
      } catch (error) {
        if (!(error instanceof ProviderError)) throw error;
      }
      return { state: 'pending', providerRefundId: null, amountMinor: null, providerState: 'fund_change=N' };
    },

    queryRefund,
  };
}
