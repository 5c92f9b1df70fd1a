import type { z } from 'zod';
import type { providerName } from '@pay/contracts';

/**
 * Shared shapes of the three provider callback protocols, plus the rules every provider obeys
 * (size bound, strict UTF-8, timestamp window, never throw from verify). Pure: no I/O.
 */

export type ProviderName = 'mock' | 'wechatpay' | 'alipay';

// Compile-time guard: the name list must stay the one the event contracts use.
type _SameNames = [ProviderName] extends [z.infer<typeof providerName>]
  ? [z.infer<typeof providerName>] extends [ProviderName]
    ? true
    : never
  : never;
const _providerNamesMatchContracts: _SameNames = true;

export interface NormalizedNotification {
  provider: ProviderName;
  /** mock: notification_id; wechatpay: body.id; alipay: notify_id */
  notificationId: string;
  /** Our payment id (mock: payment_id; wechatpay/alipay: out_trade_no) */
  paymentId: string;
  /** The provider's (mock: transaction_id, wechatpay: transaction_id, alipay: trade_no) */
  transactionId: string | null;
  outcome: 'success' | 'failure';
  /** Integer fen, exact (never via float math). For a refund notification: the paid total, not the refund. */
  amountMinor: number;
  /** Present when the notification reports a refund's result (WeChat REFUND.*) rather than the payment's. */
  refund?: NotifiedRefund;
}

export interface NotifiedRefund {
  /** Our refund id (wechatpay: out_refund_no) */
  refundId: string;
  /** The provider's (wechatpay: refund_id) */
  providerRefundId: string | null;
  /** wechatpay: SUCCESS → succeeded, CLOSED → failed, ABNORMAL → needs_attention (not final: act on it) */
  status: 'succeeded' | 'failed' | 'needs_attention';
  /** Integer fen, exact */
  refundMinor: number;
}

export interface CallbackRequest {
  /** Lower-cased header names */
  headers: Record<string, string | undefined>;
  rawBody: Buffer;
}

export type RejectReason =
  | 'bad_signature'
  | 'missing_signature'
  | 'stale_timestamp'
  | 'unknown_serial'
  | 'malformed'
  | 'merchant_mismatch'
  | 'decrypt_failed'
  | 'unsupported_event'
  | 'body_too_large';

export type VerifyResult =
  | { ok: true; notification: NormalizedNotification }
  /** detail: human text, never containing a secret or key */
  | { ok: false; reason: RejectReason; detail: string };

export interface ProviderAnswer {
  status: number;
  contentType: string;
  body: string;
}

export interface ProviderAdapter {
  name: ProviderName;
  verify(request: CallbackRequest, now: Date): VerifyResult;
  /** The provider's own "received, stop retrying" answer */
  acknowledge(): ProviderAnswer;
  /** The provider's own failure answer with our status (4xx refused / 5xx retry later) */
  refuse(status: number, message: string): ProviderAnswer;
}

export const MAX_CALLBACK_BYTES = 64 * 1024;
export const TIMESTAMP_TOLERANCE_SECONDS = 300;

export type Rejection = Extract<VerifyResult, { ok: false }>;

export function reject(reason: RejectReason, detail: string): Rejection {
  return { ok: false, reason, detail };
}

/** Fatal on any invalid sequence: a lenient decoder would silently change what was signed. */
export const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Size and encoding are checked before any parsing, so a hostile body never reaches a parser. */
export function decodeCallbackBody(rawBody: unknown): { ok: true; text: string } | Rejection {
  if (!Buffer.isBuffer(rawBody)) return reject('malformed', 'the raw body bytes are required');
  if (rawBody.length > MAX_CALLBACK_BYTES) {
    return reject('body_too_large', `body of ${rawBody.length} bytes exceeds ${MAX_CALLBACK_BYTES}`);
  }
  try {
    return { ok: true, text: strictUtf8.decode(rawBody) };
  } catch {
    return reject('malformed', 'body is not valid UTF-8');
  }
}

/** Both directions count: a timestamp from the future is as suspicious as an old one. */
export function isWithinTolerance(timestampSeconds: number, now: Date): boolean {
  const skew = now.getTime() / 1000 - timestampSeconds;
  return Number.isFinite(skew) && Math.abs(skew) <= TIMESTAMP_TOLERANCE_SECONDS;
}

/** Header value, or undefined when absent or blank. */
export function headerValue(request: CallbackRequest, name: string): string | undefined {
  const headers: unknown = request?.headers;
  if (typeof headers !== 'object' || headers === null) return undefined;
  const value: unknown = (headers as Record<string, unknown>)[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** Short, printable echo of attacker-controlled text for a detail message. */
export function quote(value: string): string {
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return JSON.stringify(shown);
}

/** verify() never throws: any unexpected exception becomes `malformed`, without echoing its message. */
export function neverThrow(verify: () => VerifyResult): VerifyResult {
  try {
    return verify();
  } catch (error) {
    const kind = error instanceof Error ? error.name : 'exception';
    return reject('malformed', `could not process the callback (${kind})`);
  }
}

/** Providers must only ever see a failure status from refuse(): a 2xx would stop their retries. */
export function failureStatus(status: number): number {
  return Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500;
}

/** Base64 of standard alphabet with padding, as both RSA providers send their signatures. */
export const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
