import { ProviderError, type ProviderErrorKind, type ProviderName } from './types';

/**
 * The one place where provider answers and transport failures become a ProviderError kind (see
 * ProviderErrorKind in ./types). Messages carry codes and short words only: never a key, a signature or
 * a whole body.
 */

const WECHATPAY_RETRYABLE = new Set(['SYSTEM_ERROR', 'FREQUENCY_LIMITED']);
const WECHATPAY_MISCONFIGURED = new Set(['SIGN_ERROR', 'NO_AUTH', 'APPID_MCHID_NOT_MATCH', 'MCH_NOT_EXISTS']);

/** A WeChat Pay v3 non-2xx answer: HTTP status plus the body's `code` (undefined when there was none). */
export function classifyWechatpayError(status: number, code: string | undefined): ProviderErrorKind {
  if (status >= 500 || status === 429 || (code !== undefined && WECHATPAY_RETRYABLE.has(code))) return 'retryable';
  if (status === 401 || (code !== undefined && WECHATPAY_MISCONFIGURED.has(code))) return 'misconfigured';
  if (status >= 400) return 'rejected';
  // 1xx/3xx or an unexpected 2xx-shaped failure: nothing we can read as a decision.
  return 'unknown';
}

/** Our simulator's mock provider: plain HTTP semantics (401/403: our signature or secret is wrong). */
export function classifyMockError(status: number): ProviderErrorKind {
  if (status >= 500 || status === 429) return 'retryable';
  if (status === 401 || status === 403) return 'misconfigured';
  if (status >= 400) return 'rejected';
  return 'unknown';
}

const ALIPAY_MISCONFIGURED_CODES = new Set(['20001', '40001', '40002', '40006']);

/** An Alipay v2 answer whose `code` is not 10000 (sub_code as sent, e.g. "ACQ.TRADE_NOT_EXIST"). */
export function classifyAlipayError(code: string, subCode: string | undefined): ProviderErrorKind {
  if (subCode === 'ACQ.DISCORDANT_REPEAT_REQUEST') return 'unknown';
  if (code === '20000' || subCode === 'ACQ.SYSTEM_ERROR') return 'retryable';
  if (ALIPAY_MISCONFIGURED_CODES.has(code) || (subCode !== undefined && subCode.startsWith('isv.'))) return 'misconfigured';
  if (code === '40004') return 'rejected';
  return 'unknown';
}

// Nothing reached the provider: no connection was made, so the request cannot have taken effect.
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUT_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const TIMEOUT_NAMES = new Set(['TimeoutError', 'AbortError', 'HttpClientRequestTimeoutError', 'HeadersTimeoutError', 'BodyTimeoutError']);

/** The names and codes along an error's cause chain (fetch, axios and urllib each wrap differently). */
function errorMarks(error: unknown): { names: Set<string>; codes: Set<string> } {
  const names = new Set<string>();
  const codes = new Set<string>();
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const next = queue.shift();
    if (typeof next !== 'object' || next === null || seen.has(next)) continue;
    seen.add(next);
    const record = next as { name?: unknown; code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof record.name === 'string') names.add(record.name);
    if (typeof record.code === 'string') codes.add(record.code);
    queue.push(record.cause);
    if (Array.isArray(record.errors)) queue.push(...(record.errors as unknown[]));
  }
  return { names, codes };
}

/**
 * A call that got no answer. A refused or unresolvable connection sent nothing, so it is retryable; a
 * timeout or a cut connection may have reached the provider, so it is unknown.
 */
export function transportError(provider: ProviderName, operation: string, error: unknown): ProviderError {
  const { names, codes } = errorMarks(error);
  if ([...codes].some((code) => NOT_SENT_CODES.has(code)) || names.has('HttpClientConnectTimeoutError')) {
    return new ProviderError(provider, 'retryable', 'connect_failed', `${operation}: could not connect (nothing was sent)`);
  }
  if ([...codes].some((code) => TIMEOUT_CODES.has(code)) || [...names].some((name) => TIMEOUT_NAMES.has(name))) {
    return new ProviderError(provider, 'unknown', 'timeout', `${operation}: no answer in time (it may have happened)`);
  }
  const shown = [...codes][0] ?? [...names][0] ?? 'error';
  return new ProviderError(provider, 'unknown', 'connection_error', `${operation}: connection failed (${shown}); it may have happened`);
}

export function badSignatureError(provider: ProviderName, operation: string): ProviderError {
  return new ProviderError(provider, 'unknown', 'bad_response_signature', `${operation}: the answer's signature does not verify; not trusted`);
}

export function malformedAnswerError(provider: ProviderName, operation: string, what: string): ProviderError {
  return new ProviderError(provider, 'unknown', 'malformed_answer', `${operation}: unreadable answer (${what})`);
}

/** Refused by us before any call: nothing was sent. */
export function invalidRequestError(provider: ProviderName, code: string, message: string): ProviderError {
  return new ProviderError(provider, 'rejected', code, message);
}

/** A provider's own code, cut and stripped so a hostile answer cannot fill a log line. */
export function safeCode(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  return value.replace(/[^\w.-]/g, '').slice(0, 64) || undefined;
}
