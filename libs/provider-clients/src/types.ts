/**
 * Outbound calls to payment providers: one interface, one implementation per provider. The payment
 * service decides with these answers; it never sees a provider's wire format. Amounts are integer fen
 * here; each implementation converts exactly (WeChat: fen integers; Alipay: yuan strings "12.34").
 */

export type ProviderName = 'mock' | 'wechatpay' | 'alipay';

/** How the payer pays: the design's `channel` of `POST /payments/:id/start`. */
export type PayChannel = 'jsapi' | 'native' | 'alipay_jsapi' | 'precreate' | 'mock';

/** What the client app needs to open the provider's payment UI (the design's `pay_params`). */
export type PayParams =
  /** WeChat mini-program `wx.requestPayment`; paySign = base64 SHA256withRSA(merchant key, "appId\ntimeStamp\nnonceStr\npackage\n"). */
  | { appId: string; timeStamp: string; nonceStr: string; package: string; signType: 'RSA'; paySign: string }
  /** WeChat Native: the QR code's content. */
  | { code_url: string }
  /** Alipay mini-program `my.tradePay({tradeNO})`. */
  | { trade_no: string }
  /** Alipay precreate: the QR code's content. */
  | { qr_code: string }
  /** Mock provider: the simulator's cashier page. */
  | { cashier_url: string };

export interface OpenRequest {
  /** Our payment id: the provider's `out_trade_no`. */
  paymentId: string;
  amountMinor: number;
  /** Only CNY is accepted by both real providers. */
  currency: string;
  /** Shown to the payer (WeChat `description` ≤127 chars, Alipay `subject`). */
  description: string;
  /** The provider order closes itself then (WeChat `time_expire`, Alipay `time_expire`). */
  expiresAt: Date;
  channel: PayChannel;
  payer?: { openid?: string; buyer_open_id?: string };
}

export interface OpenedOrder {
  channel: PayChannel;
  payParams: PayParams;
  /** The provider's handle of the order when it gives one (WeChat prepay_id, Alipay trade_no), else null. */
  providerOrderId: string | null;
}

/**
 * A provider's answer to "what happened to this order?", mapped:
 * paid (WeChat SUCCESS / REFUND, Alipay TRADE_SUCCESS / TRADE_FINISHED), pending (NOTPAY, USERPAYING,
 * WAIT_BUYER_PAY), closed (CLOSED, REVOKED, Alipay TRADE_CLOSED without a payment), failed (PAYERROR),
 * not_found (WeChat ORDER_NOT_EXIST, Alipay ACQ.TRADE_NOT_EXIST: never opened by the buyer or unknown).
 */
export interface TradeStatus {
  state: 'paid' | 'pending' | 'closed' | 'failed' | 'not_found';
  /** The provider's transaction id once paid (WeChat transaction_id, Alipay trade_no). */
  transactionId: string | null;
  /** What the provider says was paid, in fen, exactly as it says it (null when not given). */
  amountMinor: number | null;
  /** The provider's own status word (for logs): "SUCCESS", "WAIT_BUYER_PAY", ... */
  providerState: string;
}

export interface RefundRequest {
  paymentId: string;
  /** Our refund id: WeChat `out_refund_no`, Alipay `out_request_no`; the same on every retry. */
  refundId: string;
  amountMinor: number;
  /** The payment's paid amount (WeChat requires `amount.total`). */
  totalMinor: number;
  reason: string;
}

export interface RefundStatus {
  /** pending (WeChat PROCESSING), succeeded (SUCCESS / fund_change=Y / REFUND_SUCCESS), failed (CLOSED), needs_attention (ABNORMAL); not_found: the provider has no such refund. */
  state: 'pending' | 'succeeded' | 'failed' | 'needs_attention' | 'not_found';
  providerRefundId: string | null;
  amountMinor: number | null;
  providerState: string;
}

export interface ProviderClient {
  readonly provider: ProviderName;
  /** The channels this provider serves; the first is the default. */
  readonly channels: readonly PayChannel[];
  /** Opens (or re-opens with the same parameters) the provider's order for our payment id. */
  open(request: OpenRequest): Promise<OpenedOrder>;
  query(paymentId: string): Promise<TradeStatus>;
  /** Resolves when the order is closed or there is nothing to close (WeChat 204; Alipay ACQ.TRADE_NOT_EXIST). */
  close(paymentId: string): Promise<void>;
  refund(request: RefundRequest): Promise<RefundStatus>;
  queryRefund(paymentId: string, refundId: string): Promise<RefundStatus>;
}

/**
 * Every failure of a provider call is one of these kinds, and the caller acts on the kind only:
 * - retryable: the provider said "try again" (WeChat SYSTEM_ERROR / FREQUENCY_LIMITED / 5xx, Alipay
 *   20000 / ACQ.SYSTEM_ERROR); nothing happened there; retry with the same parameters;
 * - unknown: no answer we can trust (timeout, connection cut, unverifiable answer): it may have
 *   happened; query before deciding, never assume either way;
 * - rejected: a terminal business answer (ORDER_CLOSED, NOT_ENOUGH, ACQ.TRADE_STATUS_ERROR, ...);
 * - misconfigured: our side is wrong (SIGN_ERROR, NO_AUTH, APPID_MCHID_NOT_MATCH, missing config):
 *   log loudly; retrying will not help until someone fixes the configuration.
 */
export type ProviderErrorKind = 'retryable' | 'unknown' | 'rejected' | 'misconfigured';

export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  constructor(
    readonly provider: ProviderName,
    readonly kind: ProviderErrorKind,
    /** The provider's own code ("SYSTEM_ERROR", "ACQ.TRADE_NOT_EXIST") or ours ("timeout", "bad_response_signature"). */
    readonly code: string,
    message: string,
  ) {
    super(`${provider}: ${message}`);
  }
}
