import type { ApiClient } from '@pay/client';
import type { PaymentView } from '@pay/contracts';
import type { ServiceName } from '@pay/harness';
import { formatMinorAmount } from '@pay/money';
import { eventually, startTestStack, type TestStack } from '../support/stack';

/**
 * The compliance report proven on a known day of business: the stack has its own databases, so every
 * figure is exact. Driven only as the outside world does: customers and an admin through the public
 * API, the provider through signed callbacks (and one forged one). Two replicas of each internal
 * service and of the callback gateway write the day's figures side by side; they must still be exact.
 */
interface DailyReport {
  date: string;
  payments: Record<'created' | 'succeeded' | 'failed' | 'expired' | 'cancelled' | 'late_success' | 'duplicate_paid', number> & { success_rate: number | null; timeout_rate: number | null };
  refunds: Record<'requested' | 'succeeded' | 'failed', number>;
  callbacks: { verified: number; rejected: number; signature_failures: number; signature_failure_rate: number | null; response_time_ms: { count: number } };
  amounts: Record<string, Record<string, { amount_minor: number; amount: string }>>;
  reconciliation: Record<'payments_succeeded_without_order_paid' | 'orders_paid_without_payment_succeeded' | 'late_successes' | 'duplicate_payments' | 'refunded_in_full', unknown[]>;
}

const PAYMENTS = 10;
const SUCCEEDED = 7;
const EXPIRED = 2;
/** Payment i is for 10.00 + i × 1.11 (in fen: 1111, 1222, ...), so the amounts tell the payments apart. */
const amountOf = (index: number) => 1000 + 111 * (index + 1);

describe('the daily audit report of a known day', () => {
  let system: TestStack;
  let auditor: ApiClient;
  let admin: ApiClient;
  let customers: ApiClient[];
  let payments: PaymentView[];
  let today: string;
  let report: DailyReport;

  beforeAll(async () => {
    // No anchor by the interval while this runs (the day has fewer records than AUDIT_ANCHOR_EVERY): the
    // chain then holds exactly the day's events, which the counts below rely on (anchors: audit-anchor.test.ts).
    system = await startTestStack('report', { AUDIT_ANCHOR_INTERVAL_S: '86400' }, { replicas: 2 });
    auditor = system.client('auditor-report', 'auditor');
    admin = system.client('admin-report', 'admin');
    customers = Array.from({ length: PAYMENTS }, (_, i) => system.client(`buyer-${i}`));
    today = new Date().toISOString().slice(0, 10);

    // 10 orders and payments, all started.
    payments = [];
    for (const [i, customer] of customers.entries()) {
      const order = await customer.createOrder({ items: [{ product_id: await system.productAt(formatMinorAmount(amountOf(i))), quantity: 1 }] });
      const payment = await customer.createPayment({ order_id: order.id, amount: order.total_amount });
      payments.push(await customer.startPayment(payment.id));
    }

    // 7 paid through verified provider callbacks, 2 expired by an admin, 1 cancelled by its customer.
    for (let i = 0; i < SUCCEEDED; i += 1) {
      const answer = await system.callback({ provider: 'wechatpay', paymentId: payments[i]!.id, amountMinor: amountOf(i), status: 'SUCCESS', transactionId: `txn-report-${i}` });
      expect(answer.status).toBe(200);
    }
    for (let i = SUCCEEDED; i < SUCCEEDED + EXPIRED; i += 1) expect((await admin.expirePayment(payments[i]!.id)).status).toBe('expired');
    expect((await customers[9]!.cancelPayment(payments[9]!.id)).status).toBe('cancelled');

    // 1 forged notification (a byte changed after signing): refused, no effect.
    const forged = await system.callback({ provider: 'wechatpay', paymentId: payments[9]!.id, amountMinor: amountOf(9), status: 'SUCCESS', tamper: true });
    expect(forged.status).toBe(401);

    // Every succeeded payment's order is paid before the report is read (reconciliation is then exact).
    for (let i = 0; i < SUCCEEDED; i += 1) {
      await eventually(`order ${i} paid`, async () => (await customers[i]!.getOrder(payments[i]!.order_id)).status === 'paid');
    }
    report = await eventually(
      'every event of the day audited',
      async () => {
        const current = (await auditor.getDailyReport(today)) as unknown as DailyReport;
        const settled =
          current.payments.created === PAYMENTS &&
          current.payments.succeeded === SUCCEEDED &&
          current.payments.expired === EXPIRED &&
          current.payments.cancelled === 1 &&
          current.callbacks.verified === SUCCEEDED &&
          current.callbacks.signature_failures === 1 &&
          current.reconciliation.payments_succeeded_without_order_paid.length === 0 &&
          // payment.verified and payment.succeeded leave together but two audit replicas may append them
          // apart: the report counts only the second, so wait for the first as well.
          (await auditor.getAuditEvents({ action: 'payment_verified', page_size: 1 })).count === SUCCEEDED;
        return settled ? current : undefined;
      },
      30_000,
    );
  }, 180_000);

  afterAll(async () => {
    await system?.stop();
  });

  const succeededMinor = Array.from({ length: SUCCEEDED }, (_, i) => amountOf(i)).reduce((sum, minor) => sum + minor, 0);

  it('counts the day’s payments and rates exactly', () => {
    expect(report.date).toBe(today);
    expect(report.payments).toEqual({ created: 10, succeeded: 7, failed: 0, expired: 2, cancelled: 1, late_success: 0, duplicate_paid: 0, success_rate: 0.7, timeout_rate: 0.2 });
    expect(report.refunds).toEqual({ requested: 0, succeeded: 0, failed: 0 });
  });

  it('counts the callbacks: 7 verified, 1 signature failure, a response time for each', () => {
    expect(report.callbacks).toMatchObject({ verified: 7, rejected: 1, signature_failures: 1, signature_failure_rate: 0.125 });
    expect(report.callbacks.response_time_ms.count).toBe(8);
  });

  it('sums the amounts per outcome to the fen', () => {
    expect(report.amounts.succeeded).toEqual({ CNY: { amount_minor: succeededMinor, amount: formatMinorAmount(succeededMinor) } });
    expect(report.amounts.succeeded!.CNY!.amount).toBe('101.08');
    expect(report.amounts.expired).toEqual({ CNY: { amount_minor: amountOf(7) + amountOf(8), amount: formatMinorAmount(amountOf(7) + amountOf(8)) } });
    expect(report.amounts.cancelled).toEqual({ CNY: { amount_minor: amountOf(9), amount: formatMinorAmount(amountOf(9)) } });
    expect(report.amounts.failed).toEqual({ CNY: { amount_minor: 0, amount: '0.00' } });
  });

  it('reconciles: every succeeded payment has its order paid, nothing else is open', () => {
    expect(report.reconciliation).toEqual({
      payments_succeeded_without_order_paid: [],
      orders_paid_without_payment_succeeded: [],
      late_successes: [],
      duplicate_payments: [],
      refunded_in_full: [],
    });
  });

  it('gives the same figures as CSV', async () => {
    const response = await fetch(`${system.stack.gatewayUrl}/api/v1/audit/reports/daily?date=${today}&format=csv`, {
      headers: { authorization: `Bearer ${system.token('auditor-csv', 'auditor')}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="audit-daily-${today}.csv"`);
    const rows = (await response.text()).trim().split('\r\n').map((line) => line.split(','));
    expect(rows[0]).toEqual(['metric', 'value']);
    const figures = Object.fromEntries(rows.slice(1) as [string, string][]);
    expect(figures).toMatchObject({
      date: today,
      'payments.created': '10',
      'payments.succeeded': '7',
      'payments.failed': '0',
      'payments.expired': '2',
      'payments.cancelled': '1',
      'payments.success_rate': '0.7',
      'payments.timeout_rate': '0.2',
      'callbacks.verified': '7',
      'callbacks.signature_failures': '1',
      'amounts.succeeded.CNY.amount_minor': String(succeededMinor),
      'amounts.succeeded.CNY.amount': '101.08',
    });
    expect(Object.keys(figures).filter((metric) => metric.startsWith('reconciliation.'))).toEqual([]);
  });

  it('holds every event exactly once in an intact chain', async () => {
    const records: { id: string; action: string; seq: number }[] = [];
    for (let page = 1; ; page += 1) {
      const batch = await auditor.getAuditEvents({ page, page_size: 100 });
      records.push(...(batch.results as unknown as { id: string; action: string; seq: number }[]));
      if (!batch.next) break;
    }
    const ids = records.map((record) => record.id);
    expect(new Set(ids).size).toBe(ids.length);
    const perAction: Record<string, number> = {};
    for (const record of records) perAction[record.action] = (perAction[record.action] ?? 0) + 1;
    expect(perAction).toEqual({
      order_created: 10,
      payment_created: 10,
      payment_processing: 10,
      callback_verified: 7,
      payment_verified: 7,
      payment_succeeded: 7,
      order_paid: 7,
      payment_expired: 2,
      payment_cancelled: 1,
      signature_verification_failed: 1,
    });
    expect(records.map((record) => record.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: records.length }, (_, i) => i + 1));
    // The deep check walks every record; the default verify starts from the last signed checkpoint.
    expect(await auditor.verifyAudit({ full: true })).toMatchObject({ ok: true, checked: records.length, from_checkpoint: 0 });
    expect(await auditor.verifyAudit()).toMatchObject({ ok: true });
  });

  it('exposes Prometheus figures: HTTP latency on the gateway and payment service, callback time and outcomes', async () => {
    const metricsOf = async (url: string) => {
      const response = await fetch(`${url}/metrics`);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      return response.text();
    };
    /** Each replica counts what it handled; the service's figure is the sum, as a Prometheus query takes it. */
    const replicaMetrics = async (name: ServiceName) => {
      const replicas = system.stack.replicas[name];
      expect(replicas).toHaveLength(2);
      return Promise.all(replicas.map((replica) => metricsOf(replica.metricsUrl)));
    };
    const summed = (texts: string[], metric: string, labelMatch: string) => texts.reduce((sum, text) => sum + sampleSum(text, metric, labelMatch), 0);

    for (const text of [await metricsOf(system.stack.metricsUrl('api-gateway')), ...(await replicaMetrics('payment-service'))]) {
      expect(text).toContain('# TYPE http_request_duration_seconds histogram');
    }
    const callbacks = await replicaMetrics('callback-gateway');
    for (const text of callbacks) {
      expect(text).toContain('# TYPE callback_response_seconds histogram');
      expect(text).toContain('# TYPE callbacks_total counter');
    }
    expect(summed(callbacks, 'callbacks_total', 'outcome="accepted"')).toBe(7);
    expect(summed(callbacks, 'callbacks_total', 'outcome="rejected"')).toBe(1);
    expect(summed(callbacks, 'callback_response_seconds_count', '')).toBe(8);
    // The original's monitoring figures on the payment service: success and timeout rates are ratios of these.
    const payments = await replicaMetrics('payment-service');
    expect(summed(payments, 'payments_total', 'outcome="created"')).toBe(10);
    expect(summed(payments, 'payments_total', 'outcome="succeeded"')).toBe(7);
    expect(summed(payments, 'payments_total', 'outcome="expired"')).toBe(2);
    expect(summed(payments, 'payments_total', 'outcome="cancelled"')).toBe(1);
    // Consumer lag and dead letters, read from the broker at scrape time (the same queues for every replica).
    for (const text of payments) {
      expect(text).toMatch(/broker_queue_messages\{[^}]*queue="main"[^}]*\} \d+/);
      expect(sampleSum(text, 'broker_queue_messages', 'queue="dead"')).toBe(0);
    }
  });

  it('answers a callback-free day with empty figures (the report is per day)', async () => {
    const empty = (await auditor.getDailyReport('2000-01-01')) as unknown as DailyReport;
    expect(empty.payments).toMatchObject({ created: 0, succeeded: 0, success_rate: null, timeout_rate: null });
    expect(empty.callbacks).toMatchObject({ verified: 0, signature_failure_rate: null });
    // Reconciliation is "as of the end of that day": nothing had happened yet.
    expect(empty.reconciliation.payments_succeeded_without_order_paid).toEqual([]);
  });
});

/** Sum of a metric's samples whose labels contain `labelMatch` (Prometheus text format). */
function sampleSum(text: string, metric: string, labelMatch: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${metric}{`) && line.includes(labelMatch))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}
