import type { OpenRequest, OpenedOrder, ProviderClient, ProviderErrorKind, RefundRequest, RefundStatus, TradeStatus } from '@pay/provider-clients';
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

  /** Refunds the provider received, by our refund id (a re-send with the same id is the same refund). */
  readonly refunds = new Map<string, RefundRequest & { state: RefundStatus['state'] }>();
  /** How the provider answers a new refund: accepted for later (WeChat) or settled at once (Alipay). */
  refundAnswer: RefundStatus['state'] = 'pending';

  failNext(operation: 'open' | 'query' | 'close' | 'refund' | 'queryRefund', kind: ProviderErrorKind, times = 1): void {
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

  /** The provider settles a refund it holds (as its notification or a later query would say). */
  settleRefund(refundId: string, state: RefundStatus['state']): void {
    this.refunds.get(refundId)!.state = state;
  }

  async refund(request: RefundRequest): Promise<RefundStatus> {
    await this.called('refund', request.paymentId);
    const known = this.refunds.get(request.refundId) ?? { ...request, state: this.refundAnswer };
    this.refunds.set(request.refundId, known);
    return { state: known.state, providerRefundId: `wx-refund-${request.refundId}`, amountMinor: known.amountMinor, providerState: known.state.toUpperCase() };
  }

  async queryRefund(paymentId: string, refundId: string): Promise<RefundStatus> {
    await this.called('queryRefund', paymentId);
    const known = this.refunds.get(refundId);
    if (!known) return { state: 'not_found', providerRefundId: null, amountMinor: null, providerState: 'RESOURCE_NOT_EXISTS' };
    return { state: known.state, providerRefundId: `wx-refund-${refundId}`, amountMinor: known.amountMinor, providerState: known.state.toUpperCase() };
  }

  /** Money the provider has paid back or holds as accepted (everything not failed). */
  refundedAtProvider(): number {
    return [...this.refunds.values()].filter((refund) => refund.state !== 'failed').reduce((sum, refund) => sum + refund.amountMinor, 0);
  }
}
