import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { parseDecimalAmount } from '@pay/money';
import {
  type CallbackRequest,
  type ProviderAdapter,
  type ProviderAnswer,
  type VerifyResult,
  decodeCallbackBody,
  failureStatus,
  headerValue,
  isWithinTolerance,
  neverThrow,
  quote,
  type Rejection,
  reject,
} from './types';

/**
 * The mock provider: the original HMAC-SHA256 scheme, hardened with a signed timestamp.
 * Header `x-mock-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
 */

export const MOCK_SIGNATURE_HEADER = 'x-mock-signature';

export interface MockProviderConfig {
  secret: string;
}

export interface MockCallbackBody {
  notification_id: string;
  payment_id: string;
  transaction_id: string | null;
  status: 'SUCCESS' | 'FAILED';
  amount: string;
}

const id = z.string().min(1).max(128);
// Strict: an unknown field means the sender speaks another version of the protocol.
const mockBodySchema = z.strictObject({
  notification_id: id,
  payment_id: id,
  transaction_id: id.nullable(),
  status: z.string().min(1).max(64),
  amount: z.string().max(32),
});

const OUTCOMES: Record<string, 'success' | 'failure'> = { SUCCESS: 'success', FAILED: 'failure' };

/** HMAC-SHA256 over "<t>.<prefix><raw body>"; the prefix binds a request's method and path (empty otherwise). */
function hmacHex(secret: string, timestamp: string, rawBody: Buffer | string, prefix: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${prefix}`).update(rawBody).digest('hex');
}

function parseSignatureHeader(header: string): { t: string; v1: string } | null {
  const parts = new Map<string, string>();
  for (const part of header.split(',')) {
    const at = part.indexOf('=');
    if (at <= 0) return null;
    const key = part.slice(0, at).trim();
    // A repeated key would make it ambiguous which value was checked.
    if (parts.has(key)) return null;
    parts.set(key, part.slice(at + 1).trim());
  }
  const t = parts.get('t');
  const v1 = parts.get('v1');
  return t !== undefined && v1 !== undefined ? { t, v1 } : null;
}

/** Why a signed mock message was refused; `ok` when the header is authentic and fresh. */
export type MockSignatureCheck = { ok: true } | Rejection;

function checkSignature(secret: string, header: string | undefined, rawBody: Buffer | string, prefix: string, now: Date): MockSignatureCheck {
  if (header === undefined || header.trim() === '') return reject('missing_signature', `header ${MOCK_SIGNATURE_HEADER} is missing`);
  const signature = parseSignatureHeader(header.trim());
  if (signature === null) return reject('missing_signature', `header ${MOCK_SIGNATURE_HEADER} needs t=<seconds>,v1=<hex>`);
  if (!/^\d{1,12}$/.test(signature.t)) return reject('malformed', 'signature timestamp t is not unix seconds');

  // Signature first (it covers t), so a stale_timestamp answer always means an authentic but old message.
  const expected = Buffer.from(hmacHex(secret, signature.t, rawBody, prefix), 'hex');
  const given = /^[0-9a-fA-F]{64}$/.test(signature.v1) ? Buffer.from(signature.v1, 'hex') : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return reject('bad_signature', 'HMAC-SHA256 signature does not match the message');
  }
  if (!isWithinTolerance(Number(signature.t), now)) {
    return reject('stale_timestamp', `signature timestamp ${signature.t} is outside the allowed window`);
  }
  return { ok: true };
}

function verifyMock(secret: string, request: CallbackRequest, now: Date): VerifyResult {
  const body = decodeCallbackBody(request?.rawBody);
  if (!body.ok) return body;

  const signed = checkSignature(secret, headerValue(request, MOCK_SIGNATURE_HEADER), request.rawBody, '', now);
  if (!signed.ok) return signed;

  let json: unknown;
  try {
    json = JSON.parse(body.text);
  } catch {
    return reject('malformed', 'body is not JSON');
  }
  const parsed = mockBodySchema.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.join('.') || issue.code).join(', ');
    return reject('malformed', `body does not match the mock schema (${fields})`);
  }
  const notice = parsed.data;
  const outcome = OUTCOMES[notice.status];
  if (outcome === undefined) return reject('unsupported_event', `status ${quote(notice.status)} is not handled`);
  const amountMinor = parseDecimalAmount(notice.amount);
  if (amountMinor === null) return reject('malformed', `amount ${quote(notice.amount)} is not a decimal like "99.00"`);

  return {
    ok: true,
    notification: {
      provider: 'mock',
      notificationId: notice.notification_id,
      paymentId: notice.payment_id,
      transactionId: notice.transaction_id,
      outcome,
      amountMinor,
    },
  };
}

export function createMockProvider(config: MockProviderConfig): ProviderAdapter {
  const secret = config.secret;
  if (typeof secret !== 'string' || secret.length === 0) throw new Error('mock provider: secret is required');
  return {
    name: 'mock',
    verify: (request, now) => neverThrow(() => verifyMock(secret, request, now)),
    acknowledge: (): ProviderAnswer => ({
      status: 200,
      contentType: 'application/json; charset=utf-8',
      body: JSON.stringify({ code: 'SUCCESS' }),
    }),
    refuse: (status, message): ProviderAnswer => ({
      status: failureStatus(status),
      contentType: 'application/json; charset=utf-8',
      body: JSON.stringify({ code: 'FAIL', message }),
    }),
  };
}

/** Builds exactly what the mock provider sends: the JSON body and its signed header. */
export function signMockCallback(
  body: MockCallbackBody,
  secret: string,
  now: Date = new Date(),
): { headers: Record<string, string>; rawBody: string } {
  // Fixed key order, so the signed text is reproducible whatever order the caller used.
  const rawBody = JSON.stringify({
    notification_id: body.notification_id,
    payment_id: body.payment_id,
    transaction_id: body.transaction_id,
    status: body.status,
    amount: body.amount,
  });
  return {
    headers: {
      'content-type': 'application/json',
      [MOCK_SIGNATURE_HEADER]: signatureHeader(secret, rawBody, '', now),
    },
    rawBody,
  };
}

/*
 * Calls to the mock provider's API (`/mock/v1/...`) use the same header and HMAC, with the method and
 * the path bound into the signed text: a request signs "<t>.<METHOD> <path-with-query>\n<raw body>", so a
 * signed body cannot be replayed against another endpoint; an answer signs "<t>.<raw body>" (empty for 204).
 */

function requestPrefix(method: string, pathWithQuery: string): string {
  return `${method.toUpperCase()} ${pathWithQuery}\n`;
}

function signatureHeader(secret: string, rawBody: Buffer | string, prefix: string, now: Date): string {
  const t = String(Math.floor(now.getTime() / 1000));
  return `t=${t},v1=${hmacHex(secret, t, rawBody, prefix)}`;
}

/** The `x-mock-signature` value for a call to the mock provider's API. */
export function signMockRequest(secret: string, method: string, pathWithQuery: string, rawBody: Buffer | string, now: Date = new Date()): string {
  return signatureHeader(secret, rawBody, requestPrefix(method, pathWithQuery), now);
}

/** Checks a call to the mock provider's API (the provider's side). */
export function verifyMockRequest(
  secret: string,
  header: string | undefined,
  method: string,
  pathWithQuery: string,
  rawBody: Buffer | string,
  now: Date = new Date(),
): MockSignatureCheck {
  return checkSignature(secret, header, rawBody, requestPrefix(method, pathWithQuery), now);
}

/** The `x-mock-signature` value for the mock provider's answer. */
export function signMockAnswer(secret: string, rawBody: Buffer | string, now: Date = new Date()): string {
  return signatureHeader(secret, rawBody, '', now);
}

/** Checks the mock provider's answer (the client's side). */
export function verifyMockAnswer(secret: string, header: string | undefined, rawBody: Buffer | string, now: Date = new Date()): MockSignatureCheck {
  return checkSignature(secret, header, rawBody, '', now);
}
