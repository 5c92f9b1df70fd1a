import { buildAuditEntry, type AuditEntry } from '../src/domain/audit-record';
import { computeDailyReport, percentile, ratio } from '../src/domain/daily-report';
import { addToDayStats, emptyDayStats, statsIncrementFor } from '../src/domain/daily-stats';
import {
  craftedDayEvents,
  paymentCreated,
  paymentFailed,
  paymentLateSuccess,
  paymentRefunded,
  REFUND_DAY_1,
  REFUND_DAY_2,
  refundDaysEvents,
  REPORT_DAY,
} from './audit-fixtures';

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
      duplicate_paid: 0,
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
      duplicate_paid: { CNY: { amount_minor: 0, amount: '0.00' } },
      refunded: { CNY: { amount_minor: 0, amount: '0.00' } },
    });
  });

  it('reconciles over all history up to the end of the day, not later', () => {
    expect(report.reconciliation.payments_succeeded_without_order_paid.map((p) => p.payment_id)).toEqual(['p7']);
    expect(report.reconciliation.payments_succeeded_without_order_paid[0]).toMatchObject({ order_id: 'o7', amount: '99.00', transaction_id: 'tx7' });
    expect(report.reconciliation.orders_paid_without_payment_succeeded).toEqual([{ order_id: 'o99', payment_id: 'p99', paid_at: '2024-03-14T10:00:00.000Z' }]);
    expect(report.reconciliation.late_successes).toEqual([
      {
        payment_id: 'p8',
        order_id: 'o8',
        amount_minor: 9900,
        amount: '99.00',
        currency: 'CNY',
        transaction_id: 'late-tx8',
        occurred_at: '2024-03-15T10:40:00.000Z',
        refunded_minor: 0,
        refunded: '0.00',
        open_minor: 9900,
        open: '99.00',
      },
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
    expect(empty.refunds).toEqual({ requested: 0, succeeded: 0, failed: 0 });
    expect(empty.reconciliation).toEqual({
      payments_succeeded_without_order_paid: [],
      orders_paid_without_payment_succeeded: [],
      late_successes: [],
      duplicate_payments: [],
      refunded_in_full: [],
    });
  });

  it('counts failures in the success rate', () => {
    const at = `${REPORT_DAY}T12:00:00.000Z`;
    const records = entriesOf([paymentCreated(1, at), paymentCreated(2, at), paymentFailed(1, at)]);
    expect(computeDailyReport(records, REPORT_DAY, now).payments).toMatchObject({ failed: 1, success_rate: 0, timeout_rate: 0 });
  });
});

describe('daily report with refunds and duplicate payments', () => {
  const events = refundDaysEvents();
  const dayOne = computeDailyReport(entriesOf(events), REFUND_DAY_1, now);
  const dayTwo = computeDailyReport(entriesOf(events), REFUND_DAY_2, now);
  const ids = (items: { payment_id: string }[]) => items.map((item) => item.payment_id);

  it('counts and sums the duplicate payments of the day', () => {
    expect(dayOne.payments).toMatchObject({ succeeded: 3, late_success: 2, duplicate_paid: 1 });
    expect(dayOne.amounts.duplicate_paid).toEqual({ CNY: { amount_minor: 9900, amount: '99.00' } });
    expect(dayTwo.payments.duplicate_paid).toBe(0);
  });

  it('counts the refunds of the day by outcome and sums the succeeded ones', () => {
    expect(dayOne.refunds).toEqual({ requested: 0, succeeded: 0, failed: 0 });
    expect(dayTwo.refunds).toEqual({ requested: 5, succeeded: 4, failed: 1 });
    expect(dayTwo.amounts.refunded).toEqual({ CNY: { amount_minor: 32700, amount: '327.00' } });
  });

  it('lists the money to send back before the refunds: late successes, a success without its order paid, a duplicate', () => {
    expect(ids(dayOne.reconciliation.late_successes)).toEqual(['p21', 'p23']);
    expect(ids(dayOne.reconciliation.payments_succeeded_without_order_paid)).toEqual(['p24']);
    expect(dayOne.reconciliation.duplicate_payments).toEqual([
      {
        payment_id: 'p22',
        order_id: 'o22',
        amount_minor: 9900,
        amount: '99.00',
        currency: 'CNY',
        transaction_id: 'tx22',
        occurred_at: '2024-04-01T08:04:00.000Z',
        refunded_minor: 0,
        refunded: '0.00',
        open_minor: 9900,
        open: '99.00',
        duplicate_count: 1,
        duplicate_minor: 9900,
        duplicate_amount: '99.00',
      },
    ]);
    expect(dayOne.reconciliation.refunded_in_full).toEqual([]);
  });

  it('shows a late success, a duplicate and a success without its order paid refunded in full as refunded, no longer open', () => {
    expect(dayTwo.reconciliation.payments_succeeded_without_order_paid).toEqual([]);
    expect(dayTwo.reconciliation.duplicate_payments).toEqual([]);
    expect(dayTwo.reconciliation.refunded_in_full.map(({ payment_id, causes, refunded, open }) => ({ payment_id, causes, refunded, open }))).toEqual([
      { payment_id: 'p21', causes: ['late_success'], refunded: '99.00', open: '0.00' },
      { payment_id: 'p22', causes: ['duplicate_payment'], refunded: '99.00', open: '0.00' },
      { payment_id: 'p24', causes: ['succeeded_without_order_paid'], refunded: '99.00', open: '0.00' },
    ]);
  });

  it('keeps a partly refunded late success open with the rest', () => {
    expect(dayTwo.reconciliation.late_successes).toEqual([
      expect.objectContaining({ payment_id: 'p23', amount: '99.00', refunded_minor: 3000, refunded: '30.00', open_minor: 6900, open: '69.00' }),
    ]);
  });

  it('is clean the day after, but for what is still open', () => {
    const dayThree = computeDailyReport(entriesOf(events), '2024-04-03', now);
    expect(dayThree.reconciliation).toEqual({
      payments_succeeded_without_order_paid: [],
      orders_paid_without_payment_succeeded: [],
      late_successes: [expect.objectContaining({ payment_id: 'p23', open: '69.00' })],
      duplicate_payments: [],
      refunded_in_full: [],
    });
    const rest = [...events, paymentRefunded(23, { refundMinor: 6900, refundedMinor: 9900, sequence: 2 }, '2024-04-03T09:00:00.000Z')];
    const settled = computeDailyReport(entriesOf(rest), '2024-04-03', now).reconciliation;
    expect(settled.late_successes).toEqual([]);
    expect(settled.refunded_in_full.map((item) => [item.payment_id, item.refunded])).toEqual([['p23', '99.00']]);
  });

  it('reconciles the same whatever order the records were appended in', () => {
    const backwards = computeDailyReport(entriesOf([...events].reverse()), REFUND_DAY_2, now);
    expect(backwards.reconciliation).toEqual(dayTwo.reconciliation);
    // A refund recorded before the late success it pays back still settles it.
    const refundFirst = entriesOf([paymentRefunded(21, { refundMinor: 9900, refundedMinor: 9900 }, `${REFUND_DAY_2}T08:00:00.000Z`), paymentLateSuccess(21, `${REFUND_DAY_1}T08:00:00.000Z`)]);
    expect(computeDailyReport(refundFirst, REFUND_DAY_2, now).reconciliation.late_successes).toEqual([]);
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
