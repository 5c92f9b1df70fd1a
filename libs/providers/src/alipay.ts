import { type KeyObject, constants, createPrivateKey, createPublicKey, createSign, generateKeyPairSync, verify as verifySignature } from 'node:crypto';
import { parseDecimalAmount } from '@pay/money';
import {
  BASE64,
  type CallbackRequest,
  type ProviderAdapter,
  type ProviderAnswer,
  type VerifyResult,
  decodeCallbackBody,
  failureStatus,
  isWithinTolerance,
  neverThrow,
  quote,
  reject,
} from './types';
import { chinaDateTime, parseChinaDateTime } from './provider-text';

/**
 * Alipay asynchronous notification (notify_url): a form-encoded POST whose parameters are signed with
 * RSA2 (SHA256withRSA). Signed content: every parameter but `sign` and `sign_type`, empty values left out,
 * sorted by key, joined as k=v&k=v with the URL-decoded values.
 */

export interface AlipayProviderConfig {
  appId: string;
  /** Alipay's public key: SPKI PEM, or the bare base64 the Alipay console shows */
  alipayPublicKey: string;
}

export interface AlipayCallbackInput {
  notifyId: string;
  paymentId: string;
  tradeNo: string;
  tradeStatus: 'TRADE_SUCCESS' | 'TRADE_FINISHED' | 'TRADE_CLOSED';
  totalAmount: string;
  appId: string;
}

export interface AlipayDevKeys {
  privateKey: string;
  publicKey: string;
}

const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded; charset=utf-8';
const MAX_PARAMS = 200;

const OUTCOMES: Record<string, 'success' | 'failure'> = {
  TRADE_SUCCESS: 'success',
  TRADE_FINISHED: 'success',
  TRADE_CLOSED: 'failure',
};

function loadAlipayPublicKey(text: string): KeyObject {
  const trimmed = typeof text === 'string' ? text.trim() : '';
  const key = trimmed.includes('-----BEGIN')
    ? createPublicKey(trimmed)
    : createPublicKey({ key: Buffer.from(trimmed.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'rsa') throw new Error('alipay: the Alipay public key is not an RSA key');
  return key;
}

/**
 * Form decoding done by hand: URLSearchParams would turn broken %-escapes into U+FFFD and keep the last of
 * repeated keys, so the verified content could differ from what the sender meant.
 */
function parseForm(text: string): Map<string, string> | string {
  const params = new Map<string, string>();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    if (params.size >= MAX_PARAMS) return `more than ${MAX_PARAMS} parameters`;
    const at = pair.indexOf('=');
    const rawKey = at === -1 ? pair : pair.slice(0, at);
    const rawValue = at === -1 ? '' : pair.slice(at + 1);
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(rawKey.replace(/\+/g, ' '));
      value = decodeURIComponent(rawValue.replace(/\+/g, ' '));
    } catch {
      return 'body has an invalid %-escape';
    }
    if (key === '') return 'body has a parameter without a name';
    // A repeated key would let the signed value and the used value differ.
    if (params.has(key)) return `parameter ${quote(key)} is repeated`;
    params.set(key, value);
  }
  return params;
}

/** The RSA2 signed content: all but sign/sign_type and empty values, sorted by key (byte order for ASCII keys). */
export function alipaySignContent(params: ReadonlyMap<string, string> | Record<string, string>): string {
  const entries = params instanceof Map ? [...params.entries()] : Object.entries(params);
  return entries
    .filter(([key, value]) => key !== 'sign' && key !== 'sign_type' && value !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

const NOTIFY_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

/** notify_time is "yyyy-MM-dd HH:mm:ss" in China time; → unix seconds (null when malformed or out of range). */
function parseNotifyTime(text: string): number | null {
  const at = NOTIFY_TIME.test(text) ? parseChinaDateTime(text) : null;
  return at ? at.getTime() / 1000 : null;
}

function verifyAlipay(appId: string, publicKey: KeyObject, request: CallbackRequest, now: Date): VerifyResult {
  const body = decodeCallbackBody(request?.rawBody);
  if (!body.ok) return body;

  const params = parseForm(body.text);
  if (typeof params === 'string') return reject('malformed', params);

  const sign = params.get('sign');
  if (sign === undefined || sign === '') return reject('missing_signature', 'parameter sign is missing');
  const signType = params.get('sign_type');
  // The algorithm is pinned: only RSA2 is ever verified, whatever the sender claims.
  if (signType !== undefined && signType !== 'RSA2') return reject('bad_signature', `sign_type ${quote(signType)} is not accepted (RSA2 only)`);
  const charset = params.get('charset');
  if (charset !== undefined && charset.toLowerCase() !== 'utf-8') {
    return reject('malformed', `charset ${quote(charset)} is not handled (utf-8 only)`);
  }

  // Alipay's form encoding may turn the '+' of base64 into a space; a space is never valid base64.
  const signature = sign.length <= 1024 && BASE64.test(sign) ? Buffer.from(sign, 'base64') : null;
  const authentic =
    signature !== null &&
    verifySignature(
      'sha256',
      Buffer.from(alipaySignContent(params), 'utf8'),
      { key: publicKey, padding: constants.RSA_PKCS1_PADDING },
      signature,
    );
  if (!authentic) return reject('bad_signature', 'RSA2 signature does not verify with the Alipay public key');

  const notifyTime = params.get('notify_time');
  if (notifyTime === undefined) return reject('malformed', 'parameter notify_time is missing');
  const notifySeconds = parseNotifyTime(notifyTime);
  if (notifySeconds === null) return reject('malformed', `notify_time ${quote(notifyTime)} is not "yyyy-MM-dd HH:mm:ss"`);
  if (!isWithinTolerance(notifySeconds, now)) return reject('stale_timestamp', `notify_time ${quote(notifyTime)} is outside the allowed window`);

  const required = ['notify_id', 'app_id', 'out_trade_no', 'trade_status', 'total_amount'] as const;
  const absent = required.filter((name) => !params.get(name));
  if (absent.length > 0) return reject('malformed', `missing parameter(s): ${absent.join(', ')}`);
  const notifyId = params.get('notify_id') ?? '';
  const paymentId = params.get('out_trade_no') ?? '';
  const tradeStatus = params.get('trade_status') ?? '';
  const totalAmount = params.get('total_amount') ?? '';
  if (notifyId.length > 128 || paymentId.length > 128) return reject('malformed', 'notify_id or out_trade_no is too long');

  if (params.get('app_id') !== appId) return reject('merchant_mismatch', 'app_id is not ours');
  const notifyType = params.get('notify_type');
  if (notifyType !== undefined && notifyType !== 'trade_status_sync') {
    return reject('unsupported_event', `notify_type ${quote(notifyType)} is not handled`);
  }
  const outcome = OUTCOMES[tradeStatus];
  if (outcome === undefined) return reject('unsupported_event', `trade_status ${quote(tradeStatus)} is not handled`);
  const amountMinor = parseDecimalAmount(totalAmount);
  if (amountMinor === null) return reject('malformed', `total_amount ${quote(totalAmount)} is not a decimal like "99.00"`);
  const tradeNo = params.get('trade_no');

  return {
    ok: true,
    notification: {
      provider: 'alipay',
      notificationId: notifyId,
      paymentId,
      transactionId: tradeNo !== undefined && tradeNo !== '' ? tradeNo : null,
      outcome,
      amountMinor,
    },
  };
}

export function createAlipayProvider(config: AlipayProviderConfig): ProviderAdapter {
  if (!config.appId) throw new Error('alipay: appId is required');
  const appId = config.appId;
  const publicKey = loadAlipayPublicKey(config.alipayPublicKey);
  return {
    name: 'alipay',
    verify: (request, now) => neverThrow(() => verifyAlipay(appId, publicKey, request, now)),
    // Alipay reads only the body text: exactly "success" stops its retries, anything else is retried.
    acknowledge: (): ProviderAnswer => ({ status: 200, contentType: 'text/plain; charset=utf-8', body: 'success' }),
    refuse: (status, _message): ProviderAnswer => ({ status: failureStatus(status), contentType: 'text/plain; charset=utf-8', body: 'failure' }),
  };
}

/** Builds exactly what Alipay posts to notify_url for a trade status change, signed with RSA2. */
export function signAlipayCallback(
  input: AlipayCallbackInput,
  privateKeyPem: string,
  now: Date = new Date(),
): { headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }; rawBody: string } {
  const at = chinaDateTime(now);
  const paid = input.tradeStatus !== 'TRADE_CLOSED';
  const params: Record<string, string> = {
    notify_time: at,
    notify_type: 'trade_status_sync',
    notify_id: input.notifyId,
    app_id: input.appId,
    charset: 'utf-8',
    version: '1.0',
    sign_type: 'RSA2',
    trade_no: input.tradeNo,
    out_trade_no: input.paymentId,
    trade_status: input.tradeStatus,
    total_amount: input.totalAmount,
    subject: `订单 ${input.paymentId}`,
    gmt_create: at,
    ...(paid ? { receipt_amount: input.totalAmount, buyer_pay_amount: input.totalAmount, gmt_payment: at } : { gmt_close: at }),
  };
  const signer = createSign('sha256');
  signer.update(alipaySignContent(params), 'utf8');
  const sign = signer.sign({ key: createPrivateKey(privateKeyPem), padding: constants.RSA_PKCS1_PADDING }, 'base64');
  // URLSearchParams writes application/x-www-form-urlencoded as Alipay does (space as '+', '+' as %2B).
  const rawBody = new URLSearchParams({ ...params, sign }).toString();
  return { headers: { 'content-type': FORM_CONTENT_TYPE }, rawBody };
}

/** A fresh RSA-2048 key pair standing in for Alipay's (the simulator signs, the gateway verifies). */
export function generateAlipayDevKeys(): AlipayDevKeys {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKey, publicKey };
}
