import { buildAuditEntry, type AuditEntry } from '../src/domain/audit-record';
import { computeDailyReport, percentile, ratio } from '../src/domain/daily-report';
import { addToDayStats, emptyDayStats, statsIncrementFor } from '../src/domain/daily-stats';
import { craftedDayEvents, paymentCreated, paymentFailed, REPORT_DAY } from './audit-fixtures';

const now = new Date('2024-03-17T00:00:00Z');
const entriesOf = (events: ReturnType<typeof craftedDayEvents>): AuditEntry[] => events.map((event) => buildAuditEntry(event, now));

describe('daily report from records', () => {
  const report = computeDailyReport(entriesOf(craftedDayEvents()), REPORT_DAY, now);

  it('counts the payments of the day and their success and timeout rates', () => {
    expect(report.payments).toEqual({
      created: 10,
      succeeded: 7,
      failed: 0,
      expired: 2,
      cancelled: 1,
      late_success: 1,
      success_rate: 0.7,
      timeout_rate: 0.2,
    });
  });

  it('counts callbacks, signature failures and their rate over all callbacks', () => {
    expect(report.callbacks).toMatchObject({ verified: 7, rejected: 1, signature_failures: 1, signature_failure_rate: 0.125 });
  });

  it('gives callback response-time percentiles over verified and rejected callbacks', () => {
    // 5, 10, 20, ..., 70 ms: nearest rank 4 of 8 for p50, 8 of 8 for p95 and p99.
    expect(report.callbacks.response_time_ms).toEqual({ count: 8, p50: 30, p95: 70, p99: 70 });
  });

  it('sums amounts by outcome in minor units and as decimal strings', () => {
    expect(report.amounts).toEqual({
      succeeded: { CNY: { amount_minor: 69300, amount: '693.00' } },
      failed: { CNY: { amount_minor: 0, amount: '0.00' } },
      expired: { CNY: { amount_minor: 19800, amount: '198.00' } },
      cancelled: { CNY: { amount_minor: 9900, amount: '99.00' } },
      late_success: { CNY: { amount_minor: 9900, amount: '99.00' } },
    });
  });

  it('reconciles over all history up to the end of the day, not later', () => {
    expect(report.reconciliation.payments_succeeded_without_order_paid.map((p) => p.payment_id)).toEqual(['p7']);
    expect(report.reconciliation.payments_succeeded_without_order_paid[0]).toMatchObject({ order_id: 'o7', amount: '99.00', transaction_id: 'tx7' });
    expect(report.reconciliation.orders_paid_without_payment_succeeded).toEqual([{ order_id: 'o99', payment_id: 'p99', paid_at: '2024-03-14T10:00:00.000Z' }]);
    expect(report.reconciliation.late_successes).toEqual([
      { payment_id: 'p8', order_id: 'o8', amount_minor: 9900, amount: '99.00', currency: 'CNY', transaction_id: 'late-tx8', occurred_at: '2024-03-15T10:40:00.000Z' },
    ]);
  });

  it('clears a mismatch on the day its missing half arrives', () => {
    const next = computeDailyReport(entriesOf(craftedDayEvents()), '2024-03-16', now);
    expect(next.reconciliation.payments_succeeded_without_order_paid.map((p) => p.payment_id)).toEqual(['p11']);
    expect(next.payments.succeeded).toBe(1);
  });

  it('gives null rates and percentiles for a day without payments or callbacks', () => {
    const empty = computeDailyReport([], '2024-01-01', now);
    expect(empty.payments.success_rate).toBeNull();
    expect(empty.payments.timeout_rate).toBeNull();
    expect(empty.callbacks.signature_failure_rate).toBeNull();
    expect(empty.callbacks.response_time_ms).toEqual({ count: 0, p50: null, p95: null, p99: null });
    expect(empty.reconciliation).toEqual({ payments_succeeded_without_order_paid: [], orders_paid_without_payment_succeeded: [], late_successes: [] });
  });

  it('counts failures in the success rate', () => {
    const at = `${REPORT_DAY}T12:00:00.000Z`;
    const records = entriesOf([paymentCreated(1, at), paymentCreated(2, at), paymentFailed(1, at)]);
    expect(computeDailyReport(records, REPORT_DAY, now).payments).toMatchObject({ failed: 1, success_rate: 0, timeout_rate: 0 });
  });
});

describe('report arithmetic', () => {
  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNull();
  });

  it('rounds rates so float noise never shows', () => {
    expect(ratio(1, 3)).toBe(0.333333);
    expect(ratio(0, 0)).toBeNull();
  });

  it('turns a record into the $inc of its day and applies it the same way in memory', () => {
    const increment = statsIncrementFor({ action: 'payment_succeeded', amount_minor: 9900, currency: 'CNY' });
    expect(increment).toEqual({ 'counts.payment_succeeded': 1, 'amount_minor.payment_succeeded.CNY': 9900 });
    expect(statsIncrementFor({ action: 'callback_verified', amount_minor: 9900, currency: null })).toEqual({ 'counts.callback_verified': 1 });
    expect(addToDayStats(addToDayStats(emptyDayStats(), increment), increment)).toEqual({
      counts: { payment_succeeded: 2 },
      amount_minor: { payment_succeeded: { CNY: 19800 } },
    });
  });
});
