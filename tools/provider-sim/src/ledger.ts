import type { ProviderName } from '@pay/providers';

/**
 * The simulator's own books: one order per (provider, out_trade_no), its refunds inside it. State is kept
 * in provider-neutral words; each provider module maps them to its own (NOTPAY, WAIT_BUYER_PAY, ...).
 */

export type OrderState = 'pending' | 'paid' | 'failed' | 'closed';
export type RefundState = 'PROCESSING' | 'SUCCESS' | 'ABNORMAL' | 'CLOSED';
export type Channel = 'jsapi' | 'native' | 'alipay_jsapi' | 'precreate' | 'mock';

/** One delivery attempt of a notification, as the control API shows it. */
export interface DeliveryRecord {
  notification_id: string;
  event: string;
  at: string;
  attempt: number;
  /** null: no HTTP answer (refused connection, timeout) */
  status_code: number | null;
  acknowledged: boolean;
}

export interface SimRefund {
  provider: ProviderName;
  outRefundNo: string;
  /** The provider's own id (WeChat refund_id, mock refund_id; Alipay has none, its trade_no stands in) */
  refundId: string;
  outTradeNo: string;
  amountMinor: number;
  reason: string;
  state: RefundState;
  createdAt: Date;
  settledAt: Date | null;
  notifyUrl: string | null;
  /** Alipay answers a repeated out_request_no with the first answer: kept here */
  firstAnswer: Record<string, unknown> | null;
  notifications: DeliveryRecord[];
}

export interface SimOrder {
  provider: ProviderName;
  outTradeNo: string;
  amountMinor: number;
  description: string;
  channel: Channel;
  state: OrderState;
  /** WeChat transaction_id, Alipay trade_no, mock transaction_id; null until the provider assigns one */
  transactionId: string | null;
  notifyUrl: string | null;
  expiresAt: Date | null;
  createdAt: Date;
  /** Set once paid and never cleared: an Alipay trade closed by a full refund was still paid */
  paidAt: Date | null;
  closedAt: Date | null;
  /** An Alipay precreate order exists for query and close only once the buyer opened (scanned) it */
  opened: boolean;
  /** WeChat openid / Alipay buyer id given at order time, if any */
  payer: string | null;
  failures: number;
  refunds: SimRefund[];
  notifications: DeliveryRecord[];
}

export class Ledger {
  private readonly orders = new Map<string, SimOrder>();

  private static key(provider: ProviderName, outTradeNo: string): string {
    return `${provider}\u0000${outTradeNo}`;
  }

  /** The order, with a passed time_expire applied first (providers close unpaid orders by themselves). */
  order(provider: ProviderName, outTradeNo: string, now: Date = new Date()): SimOrder | undefined {
    const order = this.orders.get(Ledger.key(provider, outTradeNo));
    if (order) expireIfDue(order, now);
    return order;
  }

  ordersNamed(outTradeNo: string, now: Date = new Date()): SimOrder[] {
    const found: SimOrder[] = [];
    for (const order of this.orders.values()) {
      if (order.outTradeNo !== outTradeNo) continue;
      expireIfDue(order, now);
      found.push(order);
    }
    return found;
  }

  orderByTransaction(provider: ProviderName, transactionId: string, now: Date = new Date()): SimOrder | undefined {
    for (const order of this.orders.values()) {
      if (order.provider === provider && order.transactionId === transactionId) {
        expireIfDue(order, now);
        return order;
      }
    }
    return undefined;
  }

  add(order: SimOrder): void {
    this.orders.set(Ledger.key(order.provider, order.outTradeNo), order);
  }

  /** Refunds by their out_refund_no / out_request_no; a scan is plenty for a development tool. */
  refundsNamed(outRefundNo: string): SimRefund[] {
    const found: SimRefund[] = [];
    for (const order of this.orders.values()) {
      for (const refund of order.refunds) if (refund.outRefundNo === outRefundNo) found.push(refund);
    }
    return found;
  }

  refund(provider: ProviderName, outRefundNo: string): SimRefund | undefined {
    return this.refundsNamed(outRefundNo).find((refund) => refund.provider === provider);
  }
}

export function newOrder(fields: Pick<SimOrder, 'provider' | 'outTradeNo' | 'amountMinor' | 'description' | 'channel' | 'notifyUrl' | 'expiresAt' | 'payer'>, now: Date): SimOrder {
  return {
    ...fields,
    state: 'pending',
    transactionId: null,
    createdAt: now,
    paidAt: null,
    closedAt: null,
    opened: true,
    failures: 0,
    refunds: [],
    notifications: [],
  };
}

/** Records a refund on its order; `settled` refunds (Alipay, mock) are final when made. */
export function addRefund(
  order: SimOrder,
  fields: Pick<SimRefund, 'outRefundNo' | 'refundId' | 'amountMinor' | 'reason' | 'notifyUrl'> & { settled: boolean },
  now: Date,
): SimRefund {
  const { settled, ...rest } = fields;
  const refund: SimRefund = {
    ...rest,
    provider: order.provider,
    outTradeNo: order.outTradeNo,
    state: settled ? 'SUCCESS' : 'PROCESSING',
    createdAt: now,
    settledAt: settled ? now : null,
    firstAnswer: null,
    notifications: [],
  };
  order.refunds.push(refund);
  return refund;
}

export function expireIfDue(order: SimOrder, now: Date): void {
  if (order.state === 'pending' && order.expiresAt !== null && order.expiresAt.getTime() <= now.getTime()) {
    order.state = 'closed';
    order.closedAt = order.expiresAt;
  }
}

/** What is taken from the paid amount: every refund but a CLOSED one (its money went back). */
export function refundedMinor(order: SimOrder): number {
  return order.refunds.filter((refund) => refund.state !== 'CLOSED').reduce((sum, refund) => sum + refund.amountMinor, 0);
}

/** The provider's own word for the order's state, as its query API says it. */
export function statusWord(order: SimOrder): string {
  switch (order.provider) {
    case 'wechatpay':
      if (order.state === 'paid') return order.refunds.some((refund) => refund.state === 'SUCCESS') ? 'REFUND' : 'SUCCESS';
      return { pending: 'NOTPAY', failed: 'PAYERROR', closed: 'CLOSED' }[order.state];
    case 'alipay':
      // Alipay keeps a failed attempt waiting for the buyer: its failure is never a trade state.
      return { pending: 'WAIT_BUYER_PAY', failed: 'WAIT_BUYER_PAY', paid: 'TRADE_SUCCESS', closed: 'TRADE_CLOSED' }[order.state];
    case 'mock':
      return { pending: 'NOTPAY', paid: 'SUCCESS', failed: 'FAILED', closed: 'CLOSED' }[order.state];
  }
}
