import { randomUUID } from 'node:crypto';
import mongoose, { type Connection } from 'mongoose';
import type { ApiClient } from '@pay/client';
import { FAULT_EXIT_CODE, type FaultPointName } from '@pay/config';
import { databaseName } from '@pay/db';
import { freePort, startService, type ServiceName, type ServiceProcess, type SimulatedCallback } from '@pay/harness';
import { testMongoUrl } from '../support/isolation';
import { createPaymentOnceOrderKnown, eventually, startTestStack, type TestStack } from '../support/stack';

/**
 * A crash at each dangerous moment, in every service that has it, leaves exactly one effect. Each test
 * restarts one service with FAULT_POINT set (libs/config fault-points.ts), drives the flow to that
 * point, checks that the process stopped there (exit code FAULT_EXIT_CODE, not some other death), starts
 * it again without the point and proves the outcome: the order paid once, each event audited once, the
 * retried work (lapsed outbox lease, redelivered message, re-sent notification) finished. One replica
 * per service, so the process armed is the one the flow reaches.
 */
describe('fault points: one effect after a crash at each dangerous moment', () => {
  let system: TestStack;
  let bob: ApiClient;
  let auditor: ApiClient;
  let payments: Connection;
  let orders: Connection;

  beforeAll(async () => {
    // No audit anchors during these tests: the order-service consumes audit.checkpoint too, and an anchor
    // arriving while it is armed (the audit's 60 s interval once met the restart of an armed order-service)
    // makes it stop at its point on that event, before the flow's.
    system = await startTestStack('faults', { AUDIT_ANCHOR_EVERY: '1000000', AUDIT_ANCHOR_INTERVAL_S: '86400' }, { replicas: 1 });
    bob = system.client('bob');
    auditor = system.client('auditor-1', 'auditor');
    const open = (name: string) => mongoose.createConnection(testMongoUrl(), { dbName: databaseName(system.prefix, name), maxPoolSize: 2 }).asPromise();
    [payments, orders] = await Promise.all([open('payments'), open('orders')]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([payments?.close(), orders?.close()]);
    await system?.stop();
  });

  let nextPrice = 50;
  /** A started payment the callback gateway knows (its payment.created and payment.processing are audited). */
  async function paymentAwaitingCallback() {
    const price = `${nextPrice++}.00`;
    const order = await bob.createOrder({ items: [{ product_id: await system.productAt(price), quantity: 1 }] });
    const payment = await createPaymentOnceOrderKnown(bob, { order_id: order.id });
    await bob.startPayment(payment.id);
    await untilAudited({ payment_id: payment.id }, ['payment_created', 'payment_processing']);
    const notification: SimulatedCallback = {
      provider: 'wechatpay',
      paymentId: payment.id,
      amountMinor: Number(price) * 100,
      status: 'SUCCESS',
      notificationId: `ntf-${randomUUID()}`,
      transactionId: `txn-${randomUUID().slice(0, 18)}`,
    };
    return { order, payment, notification };
  }

  async function auditedActions(filter: { payment_id?: string; order_id?: string }) {
    const page = await auditor.getAuditEvents({ ...filter, page_size: 100 });
    return page.results.map((record) => record.action as string);
  }

  async function untilAudited(filter: { payment_id?: string; order_id?: string }, awaited: string[]) {
    await eventually(`audited ${awaited.join(', ')}`, async () => {
      const actions = await auditedActions(filter);
      return awaited.every((action) => actions.includes(action));
    });
  }

  /** Restarts the service's process with FAULT_POINT set; the caller drives the flow to the point. */
  function armed(service: ServiceName, point: FaultPointName): Promise<ServiceProcess> {
    return system.stack.restartReplica(service, 0, { FAULT_POINT: point });
  }

  /** The armed process stopped at its point (and nowhere else), then runs again without it. */
  async function stoppedThereThenRestarted(crashing: ServiceProcess): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      crashing.exited,
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve('still running after 30 s'), 30_000);
      }),
    ]);
    clearTimeout(timer);
    expect(code).toBe(FAULT_EXIT_CODE);
    await system.stack.restartReplica(crashing.name, 0);
  }

  /**
   * The retried work is finished: no events left in the payment's or the order's outbox (a lapsed lease
   * was recovered and cleared), no inbox claim left open (a redelivered message took it over and
   * completed it). Only then is "once" a claim about the end state rather than about a moment.
   */
  async function untilRetriesSettled(orderId: string, paymentId: string) {
    await eventually(
      'outboxes cleared and inbox claims completed',
      async () => {
        const [payment, order, openPaymentClaims, openOrderClaims] = await Promise.all([
          payments.collection('payments').findOne({ _id: paymentId as never }, { projection: { outbox_pending: 1 } }),
          orders.collection('orders').findOne({ _id: orderId as never }, { projection: { outbox_pending: 1 } }),
          payments.collection('processed_events').countDocuments({ state: 'claimed' }),
          orders.collection('processed_events').countDocuments({ state: 'claimed' }),
        ]);
        return payment?.outbox_pending === false && order?.outbox_pending === false && openPaymentClaims === 0 && openOrderClaims === 0;
      },
      60_000,
    );
  }

  async function expectPaidOnce(orderId: string, paymentId: string) {
    await eventually('order paid', async () => (await bob.getOrder(orderId)).status === 'paid', 60_000);
    await untilRetriesSettled(orderId, paymentId);
    await untilAudited({ payment_id: paymentId }, ['callback_verified', 'payment_succeeded']);
    await untilAudited({ order_id: orderId }, ['order_paid']);
    // A copy published again by the recovery is in the audit's queue by now; let it be consumed.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const byPayment = await auditedActions({ payment_id: paymentId });
    const byOrder = await auditedActions({ order_id: orderId });
    for (const action of ['callback_verified', 'payment_verified', 'payment_succeeded']) expect(byPayment.filter((a) => a === action)).toHaveLength(1);
    expect(byOrder.filter((a) => a === 'order_paid')).toHaveLength(1);
    const detail = await bob.getPaymentDetail(paymentId);
    expect(detail.status).toBe('succeeded');
    expect(detail.logs.filter((entry) => entry.event === 'succeeded')).toHaveLength(1);
    expect(await auditor.verifyAudit()).toMatchObject({ ok: true });
  }

  it.each([
    ['payment-service', 'outbox.after-commit-before-publish'],
    ['payment-service', 'outbox.after-publish-before-clear'],
    ['payment-service', 'consumer.after-effect-before-ack'],
    ['order-service', 'outbox.after-commit-before-publish'],
    ['order-service', 'outbox.after-publish-before-clear'],
    ['order-service', 'consumer.after-effect-before-ack'],
  ] as const)('%s stopped at %s: the order ends paid once, each event audited once', async (service, point) => {
    const { order, payment, notification } = await paymentAwaitingCallback();
    const crashing = await armed(service, point);
    // payment-service reaches its point applying callback.verified (the success write and its events),
    // order-service applying payment.succeeded (the paid write and order.paid).
    expect((await system.callback(notification)).status).toBe(200);
    await stoppedThereThenRestarted(crashing);
    await expectPaidOnce(order.id, payment.id);
  });

  it('audit-service stopped at consumer.after-effect-before-ack: the record stored before the crash is not appended again, the chain verifies', async () => {
    const price = `${nextPrice++}.00`;
    const product = await system.productAt(price);
    const crashing = await armed('audit-service', 'consumer.after-effect-before-ack');
    // The first event the armed audit service records stops it: this order's order.created.
    const order = await bob.createOrder({ items: [{ product_id: product, quantity: 1 }] });
    await stoppedThereThenRestarted(crashing);
    await untilAudited({ order_id: order.id }, ['order_created']);
    const payment = await createPaymentOnceOrderKnown(bob, { order_id: order.id });
    await bob.startPayment(payment.id);
    await untilAudited({ payment_id: payment.id }, ['payment_processing']);
    const accepted = await system.callback({ provider: 'wechatpay', paymentId: payment.id, amountMinor: Number(price) * 100, status: 'SUCCESS' });
    expect(accepted.status).toBe(200);
    await expectPaidOnce(order.id, payment.id);
    expect((await auditedActions({ order_id: order.id })).filter((a) => a === 'order_created')).toHaveLength(1);
  });

  it('callback-gateway stopped at callback.after-confirm-before-answer: the provider, unanswered, sends again, gets success, and the payment is applied once', async () => {
    const { order, payment, notification } = await paymentAwaitingCallback();
    const crashing = await armed('callback-gateway', 'callback.after-confirm-before-answer');
    // callback.verified is confirmed at the broker, then the gateway dies: the provider gets no answer.
    await expect(system.callback(notification)).rejects.toThrow();
    await stoppedThereThenRestarted(crashing);
    // The provider retries the same notification: answered success; the event it publishes again carries the same id.
    expect((await system.callback(notification)).status).toBe(200);
    await expectPaidOnce(order.id, payment.id);
  });

  it('refuses to start with an unknown fault point, naming the variable', async () => {
    await expect(
      startService('audit-service', await freePort(), { env: { ...system.env, FAULT_POINT: 'payment.after-commit-before-publish' }, readyTimeoutMs: 30_000 }),
    ).rejects.toThrow(/exited with code 78 at start: invalid configuration: FAULT_POINT/);
  });
});
