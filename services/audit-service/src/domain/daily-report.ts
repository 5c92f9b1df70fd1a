import { formatMinorAmount } from '@pay/money';
import { SIGNATURE_FAILURE_ACTION, type AuditEntry } from './audit-record';
import type { AuditStore, PublishedAnchor } from './audit-store';
import { tallyDayStats, type DayStats } from './daily-stats';
import { reconcile, reconciliationRowsOf, type Reconciliation, type ReconciliationRow } from './reconciliation';

/** Records whose `verify_ms` is the callback response time. */
export const CALLBACK_ACTIONS = ['callback_verified', 'callback_rejected', SIGNATURE_FAILURE_ACTION];

/** Outcomes whose amounts the report shows, and the action whose records carry them. */
const AMOUNT_STATUSES = {
  succeeded: 'payment_succeeded',
  failed: 'payment_failed',
  expired: 'payment_expired',
  cancelled: 'payment_cancelled',
  late_success: 'payment_late_success',
  /** Money taken again for a payment already paid (each time: the payment's amount). */
  duplicate_paid: 'payment_duplicate_paid',
  /** Refunds that succeeded (each refund's own amount). */
  refunded: 'refund_succeeded',
} as const;
type AmountStatus = keyof typeof AMOUNT_STATUSES;

const DEFAULT_CURRENCY = 'CNY';

export interface AmountFigure {
  amount_minor: number;
  amount: string;
}

export interface DailyReport {
  date: string;
  generated_at: string;
  payments: {
    created: number;
    succeeded: number;
    failed: number;
    expired: number;
    cancelled: number;
    late_success: number;
    /** Payments paid again under another transaction (payment.duplicate_paid): money to send back. */
    duplicate_paid: number;
    /** succeeded / (succeeded + failed + expired + cancelled); null when none finished that day. */
    success_rate: number | null;
    /** expired / (succeeded + failed + expired + cancelled); null when none finished that day. */
    timeout_rate: number | null;
  };
  callbacks: {
    verified: number;
    /** Every rejected callback, signature failures included. */
    rejected: number;
    signature_failures: number;
    /** signature failures / (verified + rejected); null when no callback arrived. */
    signature_failure_rate: number | null;
    /** Receipt to verified hand-off (or to rejection), nearest-rank percentiles. */
    response_time_ms: { count: number; p50: number | null; p95: number | null; p99: number | null };
  };
  /** Refunds asked for, and how those that ended that day ended (sums in `amounts.refunded`). */
  refunds: {
    requested: number;
    succeeded: number;
    failed: number;
  };
  /** By payment outcome (and refunded), then currency (always at least CNY). */
  amounts: Record<AmountStatus, Record<string, AmountFigure>>;
  /** As of the end of the day, over all history. */
  reconciliation: Reconciliation;
  /**
   * The last anchor the service published when the report was made: a printed (or filed) report is an
   * anchor of its own, the chain must still reach `seq` with this `hash`. Null: none published yet.
   */
  last_anchor: { seq: number; hash: string; anchored_at: string } | null;
}

export interface DailyFigures {
  stats: DayStats;
  verifyMs: number[];
  reconciliationRows: ReconciliationRow[];
  lastAnchor?: PublishedAnchor | null;
}

/**
 * The daily report from a store. It stays fast as data grows because nothing here scans history:
 * counts and amounts come from the day's one pre-aggregated `daily_stats` document (maintained with
 * `$inc` at append time), response times from that day's callback records only (index on day+action),
 * and reconciliation from the per-payment projection asking only for rows that do not match.
 */
export async function produceDailyReport(store: AuditStore, date: string, now: Date): Promise<DailyReport> {
  const [stats, verifyMs, reconciliationRows, lastAnchor] = await Promise.all([
    store.dayStats(date),
    store.callbackTimes(date),
    store.reconciliationCandidates(date),
    store.lastPublishedAnchor(),
  ]);
  return assembleDailyReport(date, { stats, verifyMs, reconciliationRows, lastAnchor }, now);
}

/** The same report computed straight from records (all history; the day's figures use that day's records). */
export function computeDailyReport(records: AuditEntry[], date: string, now: Date, lastAnchor: PublishedAnchor | null = null): DailyReport {
  const ofDay = records.filter((record) => record.day === date);
  return assembleDailyReport(
    date,
    {
      stats: tallyDayStats(ofDay),
      verifyMs: ofDay.filter((record) => CALLBACK_ACTIONS.includes(record.action) && record.verify_ms !== null).map((record) => record.verify_ms!),
      reconciliationRows: reconciliationRowsOf(records),
      lastAnchor,
    },
    now,
  );
}

export function assembleDailyReport(date: string, figures: DailyFigures, now: Date): DailyReport {
  const count = (action: string) => figures.stats.counts[action] ?? 0;
  const succeeded = count('payment_succeeded');
  const failed = count('payment_failed');
  const expired = count('payment_expired');
  const cancelled = count('payment_cancelled');
  const finished = succeeded + failed + expired + cancelled;
  const verified = count('callback_verified');
  const signatureFailures = count(SIGNATURE_FAILURE_ACTION);
  const rejected = count('callback_rejected') + signatureFailures;
  const times = [...figures.verifyMs].sort((a, b) => a - b);

  return {
    date,
    generated_at: now.toISOString(),
    payments: {
      created: count('payment_created'),
      succeeded,
      failed,
      expired,
      cancelled,
      late_success: count('payment_late_success'),
      duplicate_paid: count('payment_duplicate_paid'),
      success_rate: ratio(succeeded, finished),
      timeout_rate: ratio(expired, finished),
    },
    callbacks: {
      verified,
      rejected,
      signature_failures: signatureFailures,
      signature_failure_rate: ratio(signatureFailures, verified + rejected),
      response_time_ms: { count: times.length, p50: percentile(times, 50), p95: percentile(times, 95), p99: percentile(times, 99) },
    },
    refunds: {
      requested: count('refund_requested'),
      succeeded: count('refund_succeeded'),
      failed: count('refund_failed'),
    },
    amounts: amountsByStatus(figures.stats),
    reconciliation: reconcile(figures.reconciliationRows, date),
    last_anchor: figures.lastAnchor
      ? { seq: figures.lastAnchor.seq, hash: figures.lastAnchor.hash, anchored_at: new Date(figures.lastAnchor.anchored_at).toISOString() }
      : null,
  };
}

/** Nearest-rank percentile of ascending values: the smallest value with at least p% of values at or below it. */
export function percentile(ascending: number[], p: number): number | null {
  if (ascending.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * ascending.length));
  return ascending[Math.min(rank, ascending.length) - 1]!;
}

/** A rate rounded to 6 places (so 0.1 + 0.2 style noise never reaches a CSV); null when undefined. */
export function ratio(part: number, whole: number): number | null {
  return whole === 0 ? null : Math.round((part / whole) * 1e6) / 1e6;
}

function amountsByStatus(stats: DayStats): DailyReport['amounts'] {
  const amounts = {} as DailyReport['amounts'];
  for (const [status, action] of Object.entries(AMOUNT_STATUSES) as [AmountStatus, string][]) {
    const perCurrency: Record<string, AmountFigure> = {};
    const stored: Record<string, number> = { [DEFAULT_CURRENCY]: 0, ...stats.amount_minor[action] };
    for (const currency of Object.keys(stored).sort()) {
      const minor = stored[currency] ?? 0;
      perCurrency[currency] = { amount_minor: minor, amount: formatMinorAmount(minor) };
    }
    amounts[status] = perCurrency;
  }
  return amounts;
}
