import { randomInt } from 'node:crypto';
import type { Response } from 'express';
import type { ProviderName } from '@pay/providers';
import type { Faults } from './faults';
import type { Ledger, RefundState, SimOrder, SimRefund } from './ledger';
import type { Notifier, NotifyMode, OutboundNotification, Timers } from './notifier';
import { chinaDateTime, chinaRfc3339, parseChinaDateTime, randomText } from '@pay/providers';

/** What a provider module offers the cashier and the control API. */
export interface ProviderHooks {
  /** Sends the provider's notification of a settled payment; a provider that sends none ignores it. */
  notifyPayment(order: SimOrder, mode: NotifyMode): void;
  /** Only WeChat refunds settle later; the others are settled when made. */
  settleRefund?(refund: SimRefund, state: Exclude<RefundState, 'PROCESSING'>, mode: NotifyMode): void;
}

export interface SimContext {
  /** The simulator's own base URL (known once it listens). */
  baseUrl(): string;
  /** Our callback gateway's base URL, or null: then only orders with a notify_url are notified. */
  callbackUrl: string | null;
  timeScale: number;
  ledger: Ledger;
  faults: Faults;
  timers: Timers;
  notifier: Notifier;
  providers: Partial<Record<ProviderName, ProviderHooks>>;
  /** Refund outcomes a test asked for before the refund existed (by out_refund_no). */
  plannedRefundOutcomes: Map<string, { state: Exclude<RefundState, 'PROCESSING'>; notify: NotifyMode }>;
  log(line: string): void;
  /** Never answers: keeps the socket until close() (a "timeout" fault). */
  hold(res: Response): void;
}

/**
 * Sends a notification to the order's (or refund's) notify_url, else to our callback gateway's route for
 * the provider; with neither there is nowhere to send it, which is logged.
 */
export function sendNotification(
  context: SimContext,
  provider: ProviderName,
  notifyUrl: string | null,
  notification: Omit<OutboundNotification, 'url'>,
  mode: NotifyMode,
): void {
  const url = notifyUrl ?? (context.callbackUrl === null ? null : `${context.callbackUrl}/callbacks/${provider}`);
  if (url === null) {
    context.log(`${provider} ${notification.event} ${notification.id}: no notify_url and no callback URL, not sent`);
    return;
  }
  context.notifier.send({ ...notification, url }, mode);
}

/** The page where a person pays; stable per order, so it can stand in for the QR code content. */
export function cashierUrl(context: SimContext, provider: ProviderName, outTradeNo: string): string {
  return `${context.baseUrl()}/cashier/${provider}/${encodeURIComponent(outTradeNo)}`;
}

export function randomDigits(length: number): string {
  let text = '';
  for (let i = 0; i < length; i += 1) text += String(randomInt(10));
  return text;
}


/** RFC 3339 with an explicit offset, as WeChat Pay and our mock protocol take time_expire. */
export function parseRfc3339(text: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/.test(text)) return null;
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? null : at;
}

/** A provider-looking transaction id: WeChat 28 digits from 42, Alipay 28 digits from the date, mock prefixed. */
export function newTransactionId(provider: ProviderName, now: Date): string {
  switch (provider) {
    case 'wechatpay':
      return `4200${randomDigits(24)}`;
    case 'alipay':
      return `${chinaDateTime(now).slice(0, 10).replace(/-/g, '')}22${randomDigits(18)}`;
    case 'mock':
      return `mock_txn_${randomText(20)}`;
  }
}

export { chinaDateTime, chinaRfc3339, parseChinaDateTime, randomText };
