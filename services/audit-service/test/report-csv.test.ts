import { buildAuditEntry } from '../src/domain/audit-record';
import { computeDailyReport } from '../src/domain/daily-report';
import { csvField, renderReportCsv } from '../src/entry-points/http/report-csv';
import { craftedDayEvents, REFUND_DAY_1, REFUND_DAY_2, refundDaysEvents, REPORT_DAY } from './audit-fixtures';

describe('daily report as CSV', () => {
  const now = new Date('2024-03-17T00:00:00Z');
  const report = computeDailyReport(craftedDayEvents().map((event) => buildAuditEntry(event, now)), REPORT_DAY, now);
  const csv = renderReportCsv(report);
  const rows = csv.trimEnd().split('\r\n');

  it('starts with a metric,value header and writes one row per figure', () => {
    expect(rows[0]).toBe('metric,value');
    expect(rows).toEqual(
      expect.arrayContaining([
        'date,2024-03-15',
        'payments.created,10',
        'payments.succeeded,7',
        'payments.expired,2',
        'payments.cancelled,1',
        'payments.success_rate,0.7',
        'payments.timeout_rate,0.2',
        'callbacks.verified,7',
        'callbacks.rejected,1',
        'callbacks.signature_failures,1',
        'callbacks.signature_failure_rate,0.125',
        'callbacks.response_time_ms.p50,30',
        'callbacks.response_time_ms.p95,70',
        'amounts.succeeded.CNY.amount_minor,69300',
        'amounts.succeeded.CNY.amount,693.00',
      ]),
    );
    expect(rows.every((row) => row.split(',').length === 2)).toBe(true);
  });

  it('adds one row per reconciliation item', () => {
    expect(rows.filter((row) => row.startsWith('reconciliation.'))).toEqual([
      'reconciliation.payment_succeeded_without_order_paid,p7',
      'reconciliation.order_paid_without_payment_succeeded,o99',
      'reconciliation.late_success,p8',
    ]);
  });

  it('writes the refund and duplicate figures and the refund reconciliation rows, as in the JSON', () => {
    const entries = refundDaysEvents().map((event) => buildAuditEntry(event, now));
    const rowsOf = (day: string) => renderReportCsv(computeDailyReport(entries, day, now)).trimEnd().split('\r\n');
    const dayOne = rowsOf(REFUND_DAY_1);
    expect(dayOne).toEqual(expect.arrayContaining(['payments.duplicate_paid,1', 'amounts.duplicate_paid.CNY.amount_minor,9900', 'amounts.duplicate_paid.CNY.amount,99.00']));
    expect(dayOne.filter((row) => row.startsWith('reconciliation.'))).toEqual([
      'reconciliation.payment_succeeded_without_order_paid,p24',
      'reconciliation.late_success,p21',
      'reconciliation.late_success,p23',
      'reconciliation.duplicate_payment,p22',
    ]);
    const dayTwo = rowsOf(REFUND_DAY_2);
    expect(dayTwo).toEqual(
      expect.arrayContaining(['refunds.requested,5', 'refunds.succeeded,4', 'refunds.failed,1', 'amounts.refunded.CNY.amount_minor,32700', 'amounts.refunded.CNY.amount,327.00']),
    );
    expect(dayTwo.filter((row) => row.startsWith('reconciliation.'))).toEqual([
      'reconciliation.late_success,p23',
      'reconciliation.refunded_in_full,p21',
      'reconciliation.refunded_in_full,p22',
      'reconciliation.refunded_in_full,p24',
    ]);
  });

  it('prints the last anchor published, so the printed report is an anchor too', () => {
    const anchor = { seq: 1200, hash: 'ab'.repeat(32), anchored_at: new Date('2024-03-15T23:59:00Z') };
    const anchored = renderReportCsv(computeDailyReport([], REPORT_DAY, now, anchor)).trimEnd().split('\r\n');
    expect(anchored).toEqual(expect.arrayContaining(['last_anchor.seq,1200', `last_anchor.hash,${'ab'.repeat(32)}`, 'last_anchor.anchored_at,2024-03-15T23:59:00.000Z']));
    expect(rows).toEqual(expect.arrayContaining(['last_anchor.seq,', 'last_anchor.hash,', 'last_anchor.anchored_at,']));
  });

  it('leaves an undefined rate empty', () => {
    const empty = renderReportCsv(computeDailyReport([], '2024-01-01', now));
    expect(empty).toContain('\r\npayments.success_rate,\r\n');
  });

  it('quotes separators and neutralises formulas', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('p-1')).toBe('p-1');
  });
});
