import { randomUUID } from 'node:crypto';
import type { Identity, PaymentLogView } from '@pay/contracts';
import { createLogger } from '@pay/logger';
import { createPaymentForOrder } from '../src/domain/create-payment';
import { expireAtProvider, startAtProvider } from '../src/domain/pay-at-provider';
import { failPayment } from '../src/domain/payment-moves';
import { processPaymentSuccess } from '../src/domain/process-success';
import { refundAtProvider, type RefundCalls } from '../src/domain/refund-at-provider';
import { toPaymentView, toRefundView } from '../src/entry-points/http/payment-view';
import { inMemoryKit, type Kit } from './support/payment-kits';
import { ScriptedProvider } from './support/scripted-provider';

const logger = createLogger('payment-view-test', 'error');
const alice: Identity = { sub: 'alice', role: 'customer' };
const admin: Identity = { sub: 'ops-7', role: 'admin' };
const auditor: Identity = { sub: 'audit-3', role: 'auditor' };
const origin = { producer: 'test' };
const ADMIN_REASON = 'card flagged by the fraud desk (ticket 4411)';

/** What a customer may read in a log: the kind of actor, the event and states, no free text. */
function expectCustomerSafe(logs: PaymentLogView[]): void {
  for (const entry of logs) {
    expect(['customer', 'admin', 'system', 'provider']).toContain(entry.actor);
    expect(entry.detail).toBeNull();
  }
  expect(JSON.stringify(logs)).not.toMatch(/admin:|ops-7|alice|fraud desk/);
}

describe('the payment view by caller', () => {
  let kit: Kit;
  let wechat: ScriptedProvider;
  let calls: RefundCalls;

  beforeEach(() => {
    kit = inMemoryKit();
    wechat = new ScriptedProvider();
    calls = { store: kit.store, providers: { wechatpay: wechat }, logger, queryAfterSeconds: 60, refundQueryAfterSeconds: 60 };
  });

  async function newPayment() {
    const orderId = randomUUID();
    await kit.orders.recordCreated({ id: orderId, orderNumber: `ORD-${orderId.slice(0, 6)}`, userId: 'alice', amountMinor: 9900, currency: 'CNY' });
    return createPaymentForOrder(kit.store, kit.orders, { identity: alice, orderId, method: 'wechat' }, { ttlMinutes: 30, orderWaitMs: 0 }, origin);
  }

  it('shows a customer who acted on a payment an admin failed, expired or succeeded as a kind only, and no detail', async () => {
    const failed = (await failPayment(kit.store, (await newPayment()).id, ADMIN_REASON, 'admin:ops-7', null, origin)).payment;
    const expired = (await expireAtProvider(calls, (await newPayment()).id, 'admin:ops-7', origin)).payment;
    const succeeded = (await processPaymentSuccess(kit.store, (await newPayment()).id, { transactionId: 'manual-1', provider: null, actor: 'admin:ops-7', origin }, logger)).payment;

    for (const payment of [failed, expired, succeeded]) expectCustomerSafe(toPaymentView(payment, alice).logs);
    // The event and the states still say what happened.
    expect(toPaymentView(failed, alice).logs.map(({ event, from, to, actor }) => [event, from, to, actor])).toEqual([
      ['created', null, 'init', 'customer'],
      ['started', 'init', 'processing', 'admin'],
      ['failed', 'processing', 'failed', 'admin'],
    ]);
  });

  it('keeps the whole log, actor ids and free text, for admins and auditors', async () => {
    const failed = (await failPayment(kit.store, (await newPayment()).id, ADMIN_REASON, 'admin:ops-7', null, origin)).payment;
    for (const viewer of [admin, auditor]) {
      expect(toPaymentView(failed, viewer).logs.at(-1)).toMatchObject({ event: 'failed', actor: 'admin:ops-7', detail: ADMIN_REASON });
      expect(toPaymentView(failed, viewer).logs[0]).toMatchObject({ actor: 'customer:alice' });
    }
  });

  it("shows a customer a refund's log the same way: provider and admin as kinds, not the provider's words", async () => {
    const created = await newPayment();
    await startAtProvider(calls, created.id, {}, 'customer:alice', origin, alice);
    await processPaymentSuccess(kit.store, created.id, { transactionId: 'wx-1', provider: 'wechatpay', actor: 'provider:wechatpay', origin }, logger);
    wechat.failNext('refund', 'rejected');
    const { payment, refund } = await refundAtProvider(calls, created.id, { amountMinor: 9900, reason: 'goods returned', idempotencyKey: null, requestFingerprint: null }, 'admin:ops-7', origin);
    expect(refund.status).toBe('failed');

    const seen = toRefundView(payment, refund, alice).logs;
    expectCustomerSafe(seen);
    expect(seen.map((entry) => entry.actor)).toEqual(['admin', 'provider']);
    expect(toRefundView(payment, refund, admin).logs.map((entry) => entry.actor)).toEqual(['admin:ops-7', 'provider:wechatpay']);
    expect(toRefundView(payment, refund, admin).logs.at(-1)?.detail).toEqual(expect.any(String));
    expectCustomerSafe(toPaymentView(payment, alice).logs);
  });
});
