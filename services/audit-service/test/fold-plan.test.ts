import { buildAuditEntry } from '../src/domain/audit-record';
import { addToDayStats, emptyDayStats, tallyDayStats, type DayStats } from '../src/domain/daily-stats';
import { planFold } from '../src/domain/fold-plan';
import { buildChain } from '../src/domain/hash-chain';
import { applyReconciliationChange, reconciliationRowsOf, type ReconciliationRow } from '../src/domain/reconciliation';
import { duplicatePaid, orderPaid, paymentCreated, paymentLateSuccess, paymentRefunded, paymentSucceeded } from './audit-fixtures';

const day1 = (n: number) => `2024-03-15T10:00:${String(n).padStart(2, '0')}.000Z`;
const day2 = (n: number) => `2024-03-16T10:00:${String(n).padStart(2, '0')}.000Z`;

/** A run over two days and three payments: rows that get fields from several records, `$inc`s and a `$min`. */
function run() {
  const events = [
    paymentCreated(1, day1(1)),
    paymentSucceeded(1, day1(2)),
    duplicatePaid(1, day2(3)),
    paymentCreated(2, day1(4)),
    orderPaid(1, day2(5)),
    paymentRefunded(1, { refundMinor: 3000, refundedMinor: 3000, paidMinor: 19800 }, day2(6)),
    duplicatePaid(1, day1(7)),
    paymentLateSuccess(3, day2(8)),
    paymentRefunded(1, { refundMinor: 6900, refundedMinor: 9900, paidMinor: 19800 }, day2(9)),
  ];
  return buildChain(events.map((event) => buildAuditEntry(event, new Date())));
}

describe('planFold: a run folded with one write per document equals folding its records one by one', () => {
  it('sums each day and combines each payment row in seq order', () => {
    const records = run();
    const plan = planFold(records);

    const byDay = new Map<string, DayStats>();
    for (const fold of plan.days) byDay.set(fold.id, addToDayStats(emptyDayStats(), fold.change));
    for (const day of ['2024-03-15', '2024-03-16']) {
      expect(byDay.get(day)).toEqual(tallyDayStats(records.filter((record) => record.day === day)));
    }

    const rows = plan.rows.map((fold) => applyReconciliationChange(undefined, fold.change));
    const sort = (list: ReconciliationRow[]) => [...list].sort((a, b) => a.payment_id.localeCompare(b.payment_id));
    expect(sort(rows)).toEqual(sort(reconciliationRowsOf(records)));
    // The earlier duplicate (day 1) is kept by `$min`, though it came later in the chain.
    expect(rows.find((row) => row.payment_id === 'p1')).toMatchObject({ duplicate_day: '2024-03-15', refunds: { '2024-03-16': { count: 2, amount_minor: 9900 } } });
  });

  it('names the seq range and the records of each document', () => {
    const plan = planFold(run());
    expect(plan.days.map((fold) => [fold.id, fold.firstSeq, fold.lastSeq, fold.records.length])).toEqual([
      ['2024-03-15', 1, 7, 4],
      ['2024-03-16', 3, 9, 5],
    ]);
    expect(plan.rows.map((fold) => [fold.id, fold.firstSeq, fold.lastSeq, fold.records.length])).toEqual([
      ['p1', 2, 9, 6],
      ['p3', 8, 8, 1],
    ]);
  });
});
