import type { OpenRequest, OpenedOrder, ProviderClient, ProviderErrorKind, RefundStatus, TradeStatus } from '@pay/provider-clients';
import { ProviderError } from '@pay/provider-clients';

/**
 * A ProviderClient whose answers a test sets: a ledger of opened orders, what a query answers, and
 * failures to throw. It records every call, so a test can prove what was (not) asked.
 */
export class ScriptedProvider implements ProviderClient {
  readonly provider = 'wechatpay' as const;
  readonly channels = ['native', 'jsapi'] as const;
  readonly calls: { operation: string; paymentId: string }[] = [];
  readonly opened = new Map<string, OpenRequest>();
  /** What query answers per payment (default: pending). */
  readonly words = new Map<string, TradeStatus>();
  /** The next calls of an operation fail with this kind. */
  private readonly failures = new Map<string, ProviderErrorKind[]>();

  failNext(operation: 'open' | 'query' | 'close', kind: ProviderErrorKind, times = 1): void {
    this.failures.set(operation, [...(this.failures.get(operation) ?? []), ...Array<ProviderErrorKind>(times).fill(kind)]);
  }

  paid(paymentId: string, amountMinor: number, transactionId = `wx-${paymentId.slice(0, 8)}`): void {
    this.words.set(paymentId, { state: 'paid', transactionId, amountMinor, providerState: 'SUCCESS' });
  }

  count(operation: string): number {
    return this.calls.filter((call) => call.operation === operation).length;
  }

  private async called(operation: string, paymentId: string): Promise<void> {
    await Promise.resolve();
    this.calls.push({ operation, paymentId });
    const kind = this.failures.get(operation)?.shift();
    if (kind) throw new ProviderError('wechatpay', kind, kind === 'unknown' ? 'timeout' : 'SYSTEM_ERROR', `scripted ${kind} failure of ${operation}`);
  }

  async open(request: OpenRequest): Promise<OpenedOrder> {
    await this.called('open', request.paymentId);
    this.opened.set(request.paymentId, request);
    return { channel: request.channel, payParams: { code_url: `weixin://wxpay/bizpayurl?pr=${request.paymentId}` }, providerOrderId: null };
  }

  async query(paymentId: string): Promise<TradeStatus> {
    await this.called('query', paymentId);
    return this.words.get(paymentId) ?? { state: this.opened.has(paymentId) ? 'pending' : 'not_found', transactionId: null, amountMinor: null, providerState: 'NOTPAY' };
  }

  async close(paymentId: string): Promise<void> {
    await this.called('close', paymentId);
    const word = this.words.get(paymentId);
    if (!word || word.state === 'pending') this.words.set(paymentId, { state: 'closed', transactionId: null, amountMinor: null, providerState: 'CLOSED' });
  }

  async refund(): Promise<RefundStatus> {
    throw new Error('not scripted');
  }

  async queryRefund(): Promise<RefundStatus> {
    throw new Error('not scripted');
  }
}
