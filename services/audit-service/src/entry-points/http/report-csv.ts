import type { DailyReport } from '../../domain/daily-report';

/**
 * The daily report as `metric,value` rows: each figure under its JSON path (`payments.success_rate`,
 * `amounts.succeeded.CNY.amount`, `last_anchor.seq`), then one row per reconciliation item naming its id.
 */
export function renderReportCsv(report: DailyReport): string {
  const rows: [string, string][] = [
    ['date', report.date],
    ['generated_at', report.generated_at],
  ];
  const figures = {
    payments: report.payments,
    callbacks: report.callbacks,
    refunds: report.refunds,
    amounts: report.amounts,
    // Always three rows, empty before the first anchor: a printed report carries the anchor it saw.
    last_anchor: report.last_anchor ?? { seq: null, hash: null, anchored_at: null },
  };
  flatten(figures, '', rows);
  for (const item of report.reconciliation.payments_succeeded_without_order_paid) {
    rows.push(['reconciliation.payment_succeeded_without_order_paid', item.payment_id]);
  }
  for (const item of report.reconciliation.orders_paid_without_payment_succeeded) {
    rows.push(['reconciliation.order_paid_without_payment_succeeded', item.order_id ?? item.payment_id]);
  }
  for (const item of report.reconciliation.late_successes) rows.push(['reconciliation.late_success', item.payment_id]);
  for (const item of report.reconciliation.duplicate_payments) rows.push(['reconciliation.duplicate_payment', item.payment_id]);
  for (const item of report.reconciliation.refunded_in_full) rows.push(['reconciliation.refunded_in_full', item.payment_id]);
  return `${['metric,value', ...rows.map(([metric, value]) => `${csvField(metric)},${csvField(value)}`)].join('\r\n')}\r\n`;
}

function flatten(value: unknown, path: string, rows: [string, string][]): void {
  if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) flatten(inner, path ? `${path}.${key}` : key, rows);
    return;
  }
  rows.push([path, value === null || value === undefined ? '' : String(value)]);
}

/** RFC 4180 quoting, and no cell a spreadsheet would run as a formula. */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
