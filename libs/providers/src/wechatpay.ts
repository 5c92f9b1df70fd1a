import {
  type KeyObject,
  X509Certificate,
  constants,
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  createSign,
  generateKeyPairSync,
  randomBytes,
  verify as verifySignature,
} from 'node:crypto';
import { z } from 'zod';
import { MAX_AMOUNT_MINOR, isMinorAmount } from '@pay/money';
import {
  BASE64,
  type CallbackRequest,
  type NormalizedNotification,
  type NotifiedRefund,
  type ProviderAdapter,
  type ProviderAnswer,
  type Rejection,
  type VerifyResult,
  decodeCallbackBody,
  failureStatus,
  headerValue,
  isWithinTolerance,
  neverThrow,
  quote,
  reject,
  strictUtf8,
} from './types';
import { chinaRfc3339, randomText } from './provider-text';

/**
 * WeChat Pay API v3 notifications of payment results (TRANSACTION.*) and refund results (REFUND.*): the
 * headers sign "<timestamp>\n<nonce>\n<raw body>\n" with SHA256withRSA (PKCS#1 v1.5) under the platform
 * key named by Wechatpay-Serial; the payment or refund itself is in `resource`, encrypted with
 * AEAD_AES_256_GCM under the merchant's APIv3 key.
 */

export interface WechatpayProviderConfig {
  mchid: string;
  appid: string;
  /** The APIv3 key: 32 bytes of text, used as the AES-256 key */
  apiV3Key: string;
  /** Platform public key (SPKI PEM, or the platform certificate PEM) by serial */
  platformPublicKeys: Record<string, string>;
}

export interface WechatpayCallbackInput {
  notificationId: string;
  paymentId: string;
  transactionId: string;
  tradeState: 'SUCCESS' | 'PAYERROR' | 'CLOSED';
  amountMinor: number;
  mchid: string;
  appid: string;
  /** Default JSAPI */
  tradeType?: 'JSAPI' | 'NATIVE';
  /** Default a fixed simulated openid */
  payerOpenid?: string;
}

export interface WechatpayRefundCallbackInput {
  notificationId: string;
  mchid: string;
  /** Our payment id: out_trade_no */
  paymentId: string;
  transactionId: string;
  /** Our refund id: out_refund_no */
  refundId: string;
  /** WeChat's refund_id */
  providerRefundId: string;
  refundStatus: 'SUCCESS' | 'ABNORMAL' | 'CLOSED';
  totalMinor: number;
  refundMinor: number;
  /** Default "支付用户零钱" (the payer's balance) */
  userReceivedAccount?: string;
}

export interface WechatpaySigningKeys {
  apiV3Key: string;
  platformPrivateKey: string;
  serial: string;
}

export interface WechatpayDevKeys {
  apiV3Key: string;
  serial: string;
  platformPrivateKey: string;
  platformPublicKey: string;
}

const HEADER_TIMESTAMP = 'wechatpay-timestamp';
const HEADER_NONCE = 'wechatpay-nonce';
const HEADER_SIGNATURE = 'wechatpay-signature';
const HEADER_SERIAL = 'wechatpay-serial';
const HEADER_SIGNATURE_TYPE = 'wechatpay-signature-type';
const SIGNATURE_TYPE = 'WECHATPAY2-SHA256-RSA2048';
const AEAD = 'AEAD_AES_256_GCM';
const GCM_TAG_BYTES = 16;
const GCM_NONCE_BYTES = 12;

// Outer envelope is not strict: WeChat documents that it may add fields, and they are covered by the signature.
const notificationSchema = z.object({
  id: z.string().min(1).max(128),
  create_time: z.string().max(64).optional(),
  event_type: z.string().min(1).max(64),
  resource_type: z.string().max(64).optional(),
  summary: z.string().max(256).optional(),
  resource: z.object({
    algorithm: z.string().max(64),
    ciphertext: z.string().min(1),
    associated_data: z.string().max(256).optional(),
    nonce: z.string().max(64),
    original_type: z.string().max(64),
  }),
});

const transactionSchema = z.object({
  mchid: z.string().min(1).max(64),
  appid: z.string().min(1).max(64),
  out_trade_no: z.string().min(1).max(128),
  // Absent on some non-success states: the provider never assigned one.
  transaction_id: z.string().min(1).max(128).optional(),
  trade_type: z.string().max(32).optional(),
  trade_state: z.string().min(1).max(32),
  trade_state_desc: z.string().max(256).optional(),
  success_time: z.string().max(64).optional(),
  amount: z.object({
    total: z.number().int().min(0).max(MAX_AMOUNT_MINOR),
    payer_total: z.number().int().min(0).max(MAX_AMOUNT_MINOR).optional(),
    currency: z.string().max(8).optional(),
    payer_currency: z.string().max(8).optional(),
  }),
  payer: z.object({ openid: z.string().max(128).optional() }).optional(),
});

const OUTCOMES = new Map<string, NormalizedNotification['outcome']>([
  ['SUCCESS', 'success'],
  ['PAYERROR', 'failure'],
  ['CLOSED', 'failure'],
  ['REVOKED', 'failure'],
]);

const fen = z.number().int().min(0).max(MAX_AMOUNT_MINOR);

// Direct-merchant refund result (doc 4012082053): no appid, unlike a transaction. Unknown keys are
// dropped rather than refused, as for transactions: WeChat adds fields, and a refused notification is
// retried until WeChat gives up, leaving the refund unresolved.
const refundSchema = z.object({
  mchid: z.string().min(1).max(64),
  // Our ids: at most 64 characters, as the events that carry them allow (WeChat allows no more).
  out_trade_no: z.string().min(1).max(64),
  out_refund_no: z.string().min(1).max(64),
  transaction_id: z.string().min(1).max(128),
  refund_id: z.string().min(1).max(128),
  refund_status: z.string().min(1).max(32),
  success_time: z.string().max(64).optional(),
  user_received_account: z.string().max(256),
  amount: z
    .object({
      total: fen,
      // WeChat refunds at least 1 fen.
      refund: fen.min(1),
      payer_total: fen,
      payer_refund: fen,
      currency: z.string().max(8).optional(),
    })
    .refine((amount) => amount.refund <= amount.total && amount.payer_refund <= amount.payer_total, {
      message: 'refund exceeds the total',
    }),
});

/** The refund results WeChat notifies; PROCESSING is only ever seen by querying. */
const REFUND_RESULTS = new Map<string, { outcome: NormalizedNotification['outcome']; status: NotifiedRefund['status'] }>([
  ['SUCCESS', { outcome: 'success', status: 'succeeded' }],
  ['CLOSED', { outcome: 'failure', status: 'failed' }],
  // Not final: the merchant must act (e.g. the payer's account is closed), so a person looks at it.
  ['ABNORMAL', { outcome: 'failure', status: 'needs_attention' }],
]);

const TRADE_STATE_DESC: Record<WechatpayCallbackInput['tradeState'], string> = {
  SUCCESS: '支付成功',
  PAYERROR: '支付失败',
  CLOSED: '已关闭',
};

function apiV3KeyBytes(apiV3Key: string): Buffer {
  const key = Buffer.from(typeof apiV3Key === 'string' ? apiV3Key : '', 'utf8');
  if (key.length !== 32) throw new Error('wechatpay: the APIv3 key must be 32 bytes');
  return key;
}

function loadPlatformKey(serial: string, pem: string): KeyObject {
  const key = pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem);
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`wechatpay: platform key ${serial} is not an RSA key`);
  return key;
}

function signedMessage(timestamp: string, nonce: string, rawBody: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${timestamp}\n${nonce}\n`, 'utf8'), rawBody, Buffer.from('\n', 'utf8')]);
}

function decryptResource(key: Buffer, ciphertextB64: string, nonce: string, associatedData: string): Buffer | null {
  if (!BASE64.test(ciphertextB64)) return null;
  const sealed = Buffer.from(ciphertextB64, 'base64');
  if (sealed.length <= GCM_TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'utf8'), { authTagLength: GCM_TAG_BYTES });
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - GCM_TAG_BYTES)), decipher.final()]);
  } catch {
    return null;
  }
}

interface WechatpayState {
  mchid: string;
  appid: string;
  key: Buffer;
  platformKeys: Map<string, KeyObject>;
}

type ResourceKind = 'transaction' | 'refund';

/** The event type and the resource type must agree: a refund resource under TRANSACTION.* is not a payment. */
function resourceKind(eventType: string, originalType: string): ResourceKind | null {
  if (eventType.startsWith('TRANSACTION.') && originalType === 'transaction') return 'transaction';
  if (eventType.startsWith('REFUND.') && REFUND_RESULTS.has(eventType.slice('REFUND.'.length)) && originalType === 'refund') return 'refund';
  return null;
}

function schemaFields(error: z.ZodError): string {
  return error.issues.map((issue) => issue.path.join('.') || issue.code).join(', ');
}

/** amount.total is in fen only for CNY; any other currency would be compared as if it were fen. */
function foreignCurrency(currency: string | undefined): Rejection | null {
  return currency !== undefined && currency !== 'CNY' ? reject('unsupported_event', `currency ${quote(currency)} is not handled`) : null;
}

interface OpenedNotification {
  ok: true;
  id: string;
  eventType: string;
  kind: ResourceKind;
  /** The decrypted, authenticated resource, not yet validated */
  resource: unknown;
}

/** Signature, timestamp window, envelope and decryption: what every WeChat Pay notification shares. */
function openNotification(state: WechatpayState, request: CallbackRequest, now: Date): OpenedNotification | Rejection {
  const body = decodeCallbackBody(request?.rawBody);
  if (!body.ok) return body;

  const timestamp = headerValue(request, HEADER_TIMESTAMP);
  const nonce = headerValue(request, HEADER_NONCE);
  const signature = headerValue(request, HEADER_SIGNATURE);
  const serial = headerValue(request, HEADER_SERIAL);
  const missing = [
    [HEADER_TIMESTAMP, timestamp],
    [HEADER_NONCE, nonce],
    [HEADER_SIGNATURE, signature],
    [HEADER_SERIAL, serial],
  ]
    .filter(([, value]) => value === undefined)
    .map(([name]) => name);
  if (timestamp === undefined || nonce === undefined || signature === undefined || serial === undefined) {
    return reject('missing_signature', `missing header(s): ${missing.join(', ')}`);
  }
  const signatureType = headerValue(request, HEADER_SIGNATURE_TYPE);
  if (signatureType !== undefined && signatureType !== SIGNATURE_TYPE) {
    return reject('bad_signature', `signature type ${quote(signatureType)} is not accepted`);
  }
  if (!/^\d{1,12}$/.test(timestamp)) return reject('malformed', `${HEADER_TIMESTAMP} is not unix seconds`);
  if (nonce.length > 128) return reject('malformed', `${HEADER_NONCE} is too long`);

  const platformKey = state.platformKeys.get(serial);
  if (platformKey === undefined) return reject('unknown_serial', `no platform key for serial ${quote(serial)}`);

  // The signature covers timestamp, nonce and the raw bytes, so it is checked before anything is trusted;
  // WeChat's "WECHATPAY/SIGNTEST/" probes fail here as they should.
  const signatureBytes = signature.length <= 1024 && BASE64.test(signature) ? Buffer.from(signature, 'base64') : null;
  const authentic =
    signatureBytes !== null &&
    verifySignature(
      'sha256',
      signedMessage(timestamp, nonce, request.rawBody),
      { key: platformKey, padding: constants.RSA_PKCS1_PADDING },
      signatureBytes,
    );
  if (!authentic) return reject('bad_signature', `SHA256withRSA signature does not verify with platform key ${quote(serial)}`);
  if (!isWithinTolerance(Number(timestamp), now)) {
    return reject('stale_timestamp', `${HEADER_TIMESTAMP} ${timestamp} is outside the allowed window`);
  }

  let json: unknown;
  try {
    json = JSON.parse(body.text);
  } catch {
    return reject('malformed', 'body is not JSON');
  }
  const envelope = notificationSchema.safeParse(json);
  if (!envelope.success) return reject('malformed', `notification does not match the API v3 schema (${schemaFields(envelope.error)})`);
  const notice = envelope.data;
  // Payment results (TRANSACTION.*) and refund results (REFUND.*); anything else is not ours to handle.
  const kind = resourceKind(notice.event_type, notice.resource.original_type);
  if (kind === null) {
    return reject('unsupported_event', `event ${quote(notice.event_type)} (${quote(notice.resource.original_type)}) is not handled`);
  }
  if (notice.resource.algorithm !== AEAD) {
    return reject('unsupported_event', `resource algorithm ${quote(notice.resource.algorithm)} is not handled`);
  }
  if (Buffer.byteLength(notice.resource.nonce, 'utf8') !== GCM_NONCE_BYTES) {
    return reject('malformed', `resource nonce must be ${GCM_NONCE_BYTES} bytes`);
  }

  const plaintext = decryptResource(state.key, notice.resource.ciphertext, notice.resource.nonce, notice.resource.associated_data ?? '');
  if (plaintext === null) return reject('decrypt_failed', 'resource could not be decrypted and authenticated with the APIv3 key');

  let resource: unknown;
  try {
    resource = JSON.parse(strictUtf8.decode(plaintext));
  } catch {
    return reject('malformed', 'decrypted resource is not UTF-8 JSON');
  }
  return { ok: true, id: notice.id, eventType: notice.event_type, kind, resource };
}

function normalizeTransaction(state: WechatpayState, opened: OpenedNotification): VerifyResult {
  const parsed = transactionSchema.safeParse(opened.resource);
  if (!parsed.success) return reject('malformed', `decrypted transaction does not match the schema (${schemaFields(parsed.error)})`);
  const trade = parsed.data;
  if (trade.mchid !== state.mchid) return reject('merchant_mismatch', 'mchid is not ours');
  if (trade.appid !== state.appid) return reject('merchant_mismatch', 'appid is not ours');
  const currency = foreignCurrency(trade.amount.currency);
  if (currency !== null) return currency;
  const outcome = OUTCOMES.get(trade.trade_state);
  if (outcome === undefined) return reject('unsupported_event', `trade_state ${quote(trade.trade_state)} is not handled`);

  return {
    ok: true,
    notification: {
      provider: 'wechatpay',
      notificationId: opened.id,
      paymentId: trade.out_trade_no,
      transactionId: trade.transaction_id ?? null,
      outcome,
      amountMinor: trade.amount.total,
    },
  };
}

/**
 * A refund result. amountMinor is the paid total (amount.total), so the gateway still checks it against
 * the payment; the refunded amount travels in `refund`.
 */
function normalizeRefund(state: WechatpayState, opened: OpenedNotification): VerifyResult {
  const parsed = refundSchema.safeParse(opened.resource);
  if (!parsed.success) return reject('malformed', `decrypted refund does not match the schema (${schemaFields(parsed.error)})`);
  const refund = parsed.data;
  // The merchant is named by mchid alone: refund results carry no appid.
  if (refund.mchid !== state.mchid) return reject('merchant_mismatch', 'mchid is not ours');
  const currency = foreignCurrency(refund.amount.currency);
  if (currency !== null) return currency;
  const result = REFUND_RESULTS.get(refund.refund_status);
  if (result === undefined) return reject('unsupported_event', `refund_status ${quote(refund.refund_status)} is not handled`);
  // Both are WeChat's word on the same refund; when they disagree neither can be trusted to move money.
  if (opened.eventType !== `REFUND.${refund.refund_status}`) {
    return reject('malformed', `refund_status ${quote(refund.refund_status)} contradicts event ${quote(opened.eventType)}`);
  }

  return {
    ok: true,
    notification: {
      provider: 'wechatpay',
      notificationId: opened.id,
      paymentId: refund.out_trade_no,
      transactionId: refund.transaction_id,
      outcome: result.outcome,
      amountMinor: refund.amount.total,
      refund: {
        refundId: refund.out_refund_no,
        providerRefundId: refund.refund_id,
        status: result.status,
        refundMinor: refund.amount.refund,
      },
    },
  };
}

function verifyWechatpay(state: WechatpayState, request: CallbackRequest, now: Date): VerifyResult {
  const opened = openNotification(state, request, now);
  if (!opened.ok) return opened;
  return opened.kind === 'refund' ? normalizeRefund(state, opened) : normalizeTransaction(state, opened);
}

export function createWechatpayProvider(config: WechatpayProviderConfig): ProviderAdapter {
  if (!config.mchid || !config.appid) throw new Error('wechatpay: mchid and appid are required');
  const platformKeys = new Map<string, KeyObject>();
  for (const [serial, pem] of Object.entries(config.platformPublicKeys ?? {})) {
    platformKeys.set(serial, loadPlatformKey(serial, pem));
  }
  if (platformKeys.size === 0) throw new Error('wechatpay: at least one platform public key is required');
  const state: WechatpayState = { mchid: config.mchid, appid: config.appid, key: apiV3KeyBytes(config.apiV3Key), platformKeys };
  return {
    name: 'wechatpay',
    verify: (request, now) => neverThrow(() => verifyWechatpay(state, request, now)),
    acknowledge: (): ProviderAnswer => ({
      status: 200,
      contentType: 'application/json; charset=utf-8',
      body: JSON.stringify({ code: 'SUCCESS', message: '成功' }),
    }),
    refuse: (status, message): ProviderAnswer => ({
      status: failureStatus(status),
      contentType: 'application/json; charset=utf-8',
      body: JSON.stringify({ code: 'FAIL', message }),
    }),
  };
}


/**
 * The envelope every WeChat Pay notification shares: the resource sealed with AEAD_AES_256_GCM under the
 * APIv3 key (associated data = the resource's type), the body signed with the platform key.
 */
function sealAndSign(
  notice: { id: string; eventType: string; summary: string; originalType: 'transaction' | 'refund'; resource: object },
  keys: WechatpaySigningKeys,
  now: Date,
): { headers: Record<string, string>; rawBody: string } {
  const resourceNonce = randomText(GCM_NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', apiV3KeyBytes(keys.apiV3Key), Buffer.from(resourceNonce, 'utf8'), {
    authTagLength: GCM_TAG_BYTES,
  });
  cipher.setAAD(Buffer.from(notice.originalType, 'utf8'));
  const sealed = Buffer.concat([cipher.update(JSON.stringify(notice.resource), 'utf8'), cipher.final(), cipher.getAuthTag()]);

  const rawBody = JSON.stringify({
    id: notice.id,
    create_time: chinaRfc3339(now),
    resource_type: 'encrypt-resource',
    event_type: notice.eventType,
    summary: notice.summary,
    resource: {
      original_type: notice.originalType,
      algorithm: AEAD,
      ciphertext: sealed.toString('base64'),
      associated_data: notice.originalType,
      nonce: resourceNonce,
    },
  });
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const nonce = randomText(32);
  const signer = createSign('sha256');
  signer.update(`${timestamp}\n${nonce}\n${rawBody}\n`, 'utf8');
  const signature = signer.sign({ key: createPrivateKey(keys.platformPrivateKey), padding: constants.RSA_PKCS1_PADDING }, 'base64');
  return {
    headers: {
      'content-type': 'application/json',
      [HEADER_TIMESTAMP]: timestamp,
      [HEADER_NONCE]: nonce,
      [HEADER_SIGNATURE]: signature,
      [HEADER_SERIAL]: keys.serial,
      [HEADER_SIGNATURE_TYPE]: SIGNATURE_TYPE,
    },
    rawBody,
  };
}

/** Builds exactly what WeChat Pay sends for a payment result: encrypted resource, signed headers. */
export function signWechatpayCallback(
  input: WechatpayCallbackInput,
  keys: WechatpaySigningKeys,
  now: Date = new Date(),
): { headers: Record<string, string>; rawBody: string } {
  if (!isMinorAmount(input.amountMinor)) {
    throw new RangeError('wechatpay: amountMinor must be a non-negative integer of fen');
  }
  const transaction = {
    mchid: input.mchid,
    appid: input.appid,
    out_trade_no: input.paymentId,
    transaction_id: input.transactionId,
    trade_type: input.tradeType ?? 'JSAPI',
    trade_state: input.tradeState,
    trade_state_desc: TRADE_STATE_DESC[input.tradeState],
    bank_type: 'OTHERS',
    attach: '',
    ...(input.tradeState === 'SUCCESS' ? { success_time: chinaRfc3339(now) } : {}),
    payer: { openid: input.payerOpenid ?? 'oSimulatedOpenId0000000000000' },
    amount: { total: input.amountMinor, payer_total: input.amountMinor, currency: 'CNY', payer_currency: 'CNY' },
  };
  const eventType = `TRANSACTION.${input.tradeState}`;
  return sealAndSign({ id: input.notificationId, eventType, summary: TRADE_STATE_DESC[input.tradeState], originalType: 'transaction', resource: transaction }, keys, now);
}

const REFUND_SUMMARY: Record<WechatpayRefundCallbackInput['refundStatus'], string> = {
  SUCCESS: '退款成功',
  ABNORMAL: '退款异常',
  CLOSED: '退款关闭',
};

/** Builds exactly what WeChat Pay sends for a refund result (REFUND.SUCCESS / ABNORMAL / CLOSED). */
export function signWechatpayRefundCallback(
  input: WechatpayRefundCallbackInput,
  keys: WechatpaySigningKeys,
  now: Date = new Date(),
): { headers: Record<string, string>; rawBody: string } {
  if (!isMinorAmount(input.totalMinor) || !isMinorAmount(input.refundMinor) || input.refundMinor > input.totalMinor) {
    throw new RangeError('wechatpay: refund and total must be integers of fen, the refund at most the total');
  }
  const refund = {
    mchid: input.mchid,
    out_trade_no: input.paymentId,
    transaction_id: input.transactionId,
    out_refund_no: input.refundId,
    refund_id: input.providerRefundId,
    refund_status: input.refundStatus,
    ...(input.refundStatus === 'SUCCESS' ? { success_time: chinaRfc3339(now) } : {}),
    user_received_account: input.userReceivedAccount ?? '支付用户零钱',
    amount: { total: input.totalMinor, refund: input.refundMinor, payer_total: input.totalMinor, payer_refund: input.refundMinor },
  };
  const eventType = `REFUND.${input.refundStatus}`;
  return sealAndSign({ id: input.notificationId, eventType, summary: REFUND_SUMMARY[input.refundStatus], originalType: 'refund', resource: refund }, keys, now);
}

/** Fresh development keys: an APIv3 key (32 letters and digits) and a platform RSA-2048 key pair. */
export function generateWechatpayDevKeys(): WechatpayDevKeys {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    apiV3Key: randomText(32),
    // Platform certificate serials are 40 upper-case hex digits.
    serial: randomBytes(20).toString('hex').toUpperCase(),
    platformPrivateKey: privateKey,
    platformPublicKey: publicKey,
  };
}
