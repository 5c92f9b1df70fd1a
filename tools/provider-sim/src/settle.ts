import { type SimContext, newTransactionId } from './context';
import { type SimOrder, expireIfDue } from './ledger';
import type { NotifyMode } from './notifier';

/**
 * The buyer's side: opening, paying and failing an order, whether a person does it at the cashier page
 * or a test through the control API.
 */

export type SettleRefusal = { code: 'ORDER_CLOSED' | 'ORDER_PAID' | 'ORDER_FAILED'; message: string };

/** The buyer opened (scanned) the order: an Alipay precreate trade comes into existence with its trade_no. */
export function markOpened(order: SimOrder): void {
  if (order.opened) return;
  order.opened = true;
  if (order.provider === 'alipay') order.transactionId ??= newTransactionId('alipay', new Date());
}

function refusal(order: SimOrder, now: Date): SettleRefusal | null {
  expireIfDue(order, now);
  if (order.paidAt !== null) return { code: 'ORDER_PAID', message: `order ${order.outTradeNo} is already paid` };
  if (order.state === 'closed') return { code: 'ORDER_CLOSED', message: `order ${order.outTradeNo} is closed` };
  if (order.state === 'failed') return { code: 'ORDER_FAILED', message: `order ${order.outTradeNo} has failed` };
  return null;
}

/** The buyer pays or fails; the provider then notifies as it does (Alipay sends nothing for a failure). */
export function settleOrder(context: SimContext, order: SimOrder, action: 'pay' | 'fail', mode: NotifyMode): SettleRefusal | null {
  const now = new Date();
  const refused = refusal(order, now);
  if (refused) return refused;
  markOpened(order);
  if (action === 'pay') {
    order.state = 'paid';
    order.paidAt = now;
    // Alipay keeps the trade_no it gave at create/open; WeChat and mock assign theirs at payment.
    order.transactionId ??= newTransactionId(order.provider, now);
  } else {
    order.failures += 1;
    // Alipay: a failed attempt leaves the trade waiting for the buyer.
    if (order.provider === 'alipay') return null;
    order.state = 'failed';
    if (order.provider === 'wechatpay') order.transactionId ??= newTransactionId('wechatpay', now);
  }
  context.log(`${order.provider} order ${order.outTradeNo} ${order.state}${order.transactionId ? ` (${order.transactionId})` : ''}`);
  context.providers[order.provider]?.notifyPayment(order, mode);
  return null;
}
