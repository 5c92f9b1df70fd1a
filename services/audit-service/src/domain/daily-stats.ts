import type { AuditEntry } from './audit-record';

/**
 * Per-day figures kept up to date at append time (one `$inc` per record), so a daily report reads one
 * small document instead of scanning the day's records: `counts[action]` and
 * `amount_minor[action][currency]`.
 */
export interface DayStats {
  counts: Record<string, number>;
  amount_minor: Record<string, Record<string, number>>;
}

export function emptyDayStats(): DayStats {
  return { counts: {}, amount_minor: {} };
}

const SAFE_KEY = /^[A-Za-z0-9_]{1,64}$/;

/**
 * What one record adds to its day, as dotted paths (the shape of a MongoDB `$inc`). Keys are checked so a
 * field name can never carry `.` or `$` into an update.
 */
export function statsIncrementFor(record: Pick<AuditEntry, 'action' | 'amount_minor' | 'currency'>): Record<string, number> {
  if (!SAFE_KEY.test(record.action)) return {};
  const increment: Record<string, number> = { [`counts.${record.action}`]: 1 };
  if (record.amount_minor !== null && record.currency !== null && SAFE_KEY.test(record.currency)) {
    increment[`amount_minor.${record.action}.${record.currency}`] = record.amount_minor;
  }
  return increment;
}

/** Applies an increment in memory, exactly as `$inc` applies it in the database. */
export function addToDayStats(stats: DayStats, increment: Record<string, number>): DayStats {
  const next: DayStats = { counts: { ...stats.counts }, amount_minor: { ...stats.amount_minor } };
  for (const [path, by] of Object.entries(increment)) {
    const [group, action, currency] = path.split('.') as [string, string, string | undefined];
    if (group === 'counts') next.counts[action] = (next.counts[action] ?? 0) + by;
    else if (currency) {
      const perCurrency = { ...next.amount_minor[action] };
      perCurrency[currency] = (perCurrency[currency] ?? 0) + by;
      next.amount_minor[action] = perCurrency;
    }
  }
  return next;
}

export function tallyDayStats(records: Pick<AuditEntry, 'action' | 'amount_minor' | 'currency'>[]): DayStats {
  return records.reduce((stats, record) => addToDayStats(stats, statsIncrementFor(record)), emptyDayStats());
}

/** Several records' increments as one `$inc`: what applying them one after another adds. */
export function sumIncrements(increments: Record<string, number>[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const increment of increments) {
    for (const [path, by] of Object.entries(increment)) sum[path] = (sum[path] ?? 0) + by;
  }
  return sum;
}
