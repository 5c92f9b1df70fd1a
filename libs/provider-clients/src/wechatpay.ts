import { type KeyObject, createPrivateKey, createPublicKey, createSign, randomBytes } from 'node:crypto';
import { Wechatpay } from 'wechatpay-axios-plugin';
import { isMinorAmount } from '@pay/money';
import { chinaRfc3339 } from '@pay/providers';
import { mapStatusWord, optionalText, parseJsonObject, requiredBody, requiredText } from './answers';
import { badSignatureError, classifyWechatpayError, malformedAnswerError, safeCode, transportError } from './errors';
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
 * WeChat Pay API v3 on wechatpay-axios-plugin: it signs every request (Authorization
 * WECHATPAY2-SHA256-RSA2048) and verifies every 2xx answer (204 included) against the platform key
 * named by Wechatpay-Serial, with a ±300 s clock check. Like the official Go SDK it does not verify
 * non-2xx answers; those only ever become errors here (or not_found), never a success.
 */

export interface WechatpayClientConfig {
  mchid: string;
  appid: string;
  /** Serial of the merchant API certificate (sent as serial_no). */
  merchantSerial: string;
  /** PKCS#8 or PKCS#1 PEM. */
  merchantPrivateKey: string;
  /** A platform certificate serial or a `PUB_KEY_ID_...` (public-key mode). */
  platformSerial: string;
  /** SPKI (or PKCS#1) PEM of the platform public key. */
  platformPublicKey: string;
  /** Default https://api.mch.weixin.qq.com */
  baseUrl?: string;
  notifyUrl: string;
  /** Default 10000 */
  timeoutMs?: number;
}

const CHANNELS = ['native', 'jsapi'] as const satisfies readonly PayChannel[];
const DESCRIPTION_MAX_CHARS = 127;
/** WeChat's out_trade_no rule: a 36-character UUID does not fit. */
const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*]{6,32}$/;

const TRADE_STATES: Record<string, TradeStatus['state']> = {
  SUCCESS: 'paid',
  REFUND: 'paid',
  NOTPAY: 'pending',
  USERPAYING: 'pending',
  CLOSED: 'closed',
  REVOKED: 'closed',
  PAYERROR: 'failed',
};

const REFUND_STATES: Record<string, RefundStatus['state']> = {
  PROCESSING: 'pending',
  SUCCESS: 'succeeded',
  CLOSED: 'failed',
  ABNORMAL: 'needs_attention',
};

/** base64 SHA256withRSA(merchant key, "appId\ntimeStamp\nnonceStr\npackage\n"): `wx.requestPayment`'s paySign. */
export function wechatpayPaySign(
  merchantPrivateKey: KeyObject | string,
  appId: string,
  timeStamp: string,
  nonceStr: string,
  prepayPackage: string,
): string {
  return createSign('RSA-SHA256').update(`${appId}\n${timeStamp}\n${nonceStr}\n${prepayPackage}\n`, 'utf8').sign(merchantPrivateKey, 'base64');
}

type Answer = { ok: true; status: number; body: Record<string, unknown> | null } | { ok: false; status: number; code: string | undefined };

interface AxiosLikeError {
  code?: unknown;
  response?: { status?: unknown; data?: unknown };
}

function configError(problem: string): ProviderError {
  return new ProviderError('wechatpay', 'misconfigured', 'invalid_config', problem);
}

function loadRsaKey(load: () => KeyObject, problem: string): KeyObject {
  try {
    const key = load();
    if (key.asymmetricKeyType === 'rsa') return key;
  } catch {
    // Node's parse error says nothing we could add; the field name is what helps.
  }
  throw configError(problem);
}

function loadKeys(config: WechatpayClientConfig): { merchantKey: KeyObject; platformKey: KeyObject } {
  for (const field of ['mchid', 'appid', 'merchantSerial', 'platformSerial', 'notifyUrl'] as const) {
    if (typeof config[field] !== 'string' || config[field] === '') throw configError(`${field} is required`);
  }
  // The plugin refuses a platform serial equal to the merchant's (it would verify answers with our own key).
  if (config.platformSerial === config.merchantSerial) throw configError('platformSerial must differ from merchantSerial');
  return {
    merchantKey: loadRsaKey(() => createPrivateKey(config.merchantPrivateKey), 'merchantPrivateKey is not an RSA private key in PEM'),
    platformKey: loadRsaKey(() => createPublicKey(config.platformPublicKey), 'platformPublicKey is not an RSA public key in PEM'),
  };
}

export function createWechatpayClient(config: WechatpayClientConfig): ProviderClient {
  const { merchantKey, platformKey } = loadKeys(config);
  const baseURL = (config.baseUrl ?? 'https://api.mch.weixin.qq.com').replace(/\/*$/, '/');
  const wxpay = new Wechatpay({
    mchid: config.mchid,
    serial: config.merchantSerial,
    // The plugin takes KeyObjects as they are (its typings only name strings).
    privateKey: merchantKey as unknown as string,
    certs: { [config.platformSerial]: platformKey },
    baseURL,
    timeout: config.timeoutMs ?? 10_000,
  });

  /** One call: a verified 2xx body, or a non-2xx status and code; everything else throws. */
  async function send(
    operation: string,
    method: 'get' | 'post',
    path: string,
    options: { data?: object; params?: Record<string, string>; pathParams?: Record<string, string> },
  ): Promise<Answer> {
    const pathParams = Object.fromEntries(Object.entries(options.pathParams ?? {}).map(([name, value]) => [name, encodeURIComponent(value)]));
    // Text, so an unparseable answer is seen as such rather than passed on as a string.
    const requestConfig = { ...pathParams, params: options.params, responseType: 'text' as const };
    const endpoint = wxpay.chain(path);
    try {
      const response = method === 'get' ? await endpoint.get(requestConfig) : await endpoint.post(options.data, requestConfig);
      const body = parseJsonObject(response.data);
      if (body === undefined) throw malformedAnswerError('wechatpay', operation, 'not a JSON object');
      return { ok: true, status: response.status, body };
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      const failure = error as AxiosLikeError;
      // The plugin's own verifier codes: headers missing, clock off, unknown serial, bad signature.
      if (typeof failure?.code === 'string' && failure.code.startsWith('EV3_RES_')) throw badSignatureError('wechatpay', operation);
      const status = failure?.response?.status;
      if (typeof status === 'number') {
        const body = parseJsonObject(failure.response?.data);
        return { ok: false, status, code: safeCode(body?.code) };
      }
      throw transportError('wechatpay', operation, error);
    }
  }

  function expectOk(operation: string, answer: Answer): Record<string, unknown> | null {
    if (answer.ok) return answer.body;
    const kind = classifyWechatpayError(answer.status, answer.code);
    const code = answer.code ?? `http_${answer.status}`;
    throw new ProviderError('wechatpay', kind, code, `${operation}: HTTP ${answer.status} ${code}`);
  }

  function readAmount(operation: string, amount: unknown, field: 'total' | 'refund'): number | null {
    if (amount === undefined) return null;
    const value = (amount as Record<string, unknown> | null)?.[field];
    if (value === undefined) return null;
    if (typeof value !== 'number' || !isMinorAmount(value)) throw malformedAnswerError('wechatpay', operation, `amount.${field}`);
    return value;
  }

  function readRefund(operation: string, body: Record<string, unknown>): RefundStatus {
    const { state, word } = mapStatusWord('wechatpay', operation, REFUND_STATES, body.status, 'refund status');
    return { state, providerRefundId: optionalText(body.refund_id), amountMinor: readAmount(operation, body.amount, 'refund'), providerState: word };
  }

  return {
    provider: 'wechatpay',
    channels: CHANNELS,

    async open(request: OpenRequest): Promise<OpenedOrder> {
      checkOpenRequest('wechatpay', CHANNELS, request);
      if (!OUT_TRADE_NO.test(request.paymentId)) {
        throw new ProviderError('wechatpay', 'rejected', 'invalid_out_trade_no', 'paymentId must be 6-32 characters of 0-9 A-Z a-z _ - | * to be an out_trade_no');
      }
      const body = {
        appid: config.appid,
        mchid: config.mchid,
        description: cutText(request.description, DESCRIPTION_MAX_CHARS),
        out_trade_no: request.paymentId,
        time_expire: chinaRfc3339(request.expiresAt),
        notify_url: config.notifyUrl,
        amount: { total: request.amountMinor, currency: 'CNY' },
        ...(request.channel === 'jsapi' ? { payer: { openid: request.payer?.openid } } : {}),
      };
      const answer = requiredBody('wechatpay', 'open', expectOk('open', await send('open', 'post', `v3/pay/transactions/${request.channel}`, { data: body })));

      if (request.channel === 'native') {
        return { channel: 'native', payParams: { code_url: requiredText('wechatpay', 'open', answer.code_url, 'code_url') }, providerOrderId: null };
      }
      const prepayId = requiredText('wechatpay', 'open', answer.prepay_id, 'prepay_id');
      const timeStamp = String(Math.floor(Date.now() / 1000));
      const nonceStr = randomBytes(16).toString('hex');
      const prepayPackage = `prepay_id=${prepayId}`;
      return {
        channel: 'jsapi',
        payParams: {
          appId: config.appid,
          timeStamp,
          nonceStr,
          package: prepayPackage,
          signType: 'RSA',
          paySign: wechatpayPaySign(merchantKey, config.appid, timeStamp, nonceStr, prepayPackage),
        },
        providerOrderId: prepayId,
      };
    },

    async query(paymentId: string): Promise<TradeStatus> {
      const answer = await send('query', 'get', 'v3/pay/transactions/out-trade-no/{out_trade_no}', {
        params: { mchid: config.mchid },
        pathParams: { out_trade_no: paymentId },
      });
      if (!answer.ok && answer.status === 404 && answer.code === 'ORDER_NOT_EXIST') {
        return { state: 'not_found', transactionId: null, amountMinor: null, providerState: 'ORDER_NOT_EXIST' };
      }
      const body = requiredBody('wechatpay', 'query', expectOk('query', answer));
      const { state, word } = mapStatusWord('wechatpay', 'query', TRADE_STATES, body.trade_state, 'trade_state');
      return { state, transactionId: optionalText(body.transaction_id), amountMinor: readAmount('query', body.amount, 'total'), providerState: word };
    },

    async close(paymentId: string): Promise<void> {
      // 204 even for an unknown or already closed order: close proves nothing, the caller queries next.
      expectOk(
        'close',
        await send('close', 'post', 'v3/pay/transactions/out-trade-no/{out_trade_no}/close', {
          data: { mchid: config.mchid },
          pathParams: { out_trade_no: paymentId },
        }),
      );
    },

    async refund(request: RefundRequest): Promise<RefundStatus> {
      checkRefundRequest('wechatpay', request);
      const body = {
        out_trade_no: request.paymentId,
        out_refund_no: request.refundId,
        reason: cutText(request.reason, 80),
        notify_url: config.notifyUrl,
        amount: { refund: request.amountMinor, total: request.totalMinor, currency: 'CNY' },
      };
      const answer = await send('refund', 'post', 'v3/refund/domestic/refunds', { data: body });
      return readRefund('refund', requiredBody('wechatpay', 'refund', expectOk('refund', answer)));
    },

    async queryRefund(_paymentId: string, refundId: string): Promise<RefundStatus> {
      const answer = await send('refund_query', 'get', 'v3/refund/domestic/refunds/{out_refund_no}', {
        pathParams: { out_refund_no: refundId },
      });
      if (!answer.ok && answer.status === 404 && answer.code === 'RESOURCE_NOT_EXISTS') {
        return { state: 'not_found', providerRefundId: null, amountMinor: null, providerState: 'RESOURCE_NOT_EXISTS' };
      }
      return readRefund('refund_query', requiredBody('wechatpay', 'refund_query', expectOk('refund_query', answer)));
    },
  };
}
