import { bumpVersion, writeWithRetry } from '@pay/db';
import { createLogger } from '@pay/logger';
import { backfillRefundsPending, LEGACY_REFUNDS_DUE_INDEX } from '../src/data-access/payment-model';
import { refundAtProvider, type RefundCalls } from '../src/domain/refund-at-provider';
import { databaseKit, newWechatPayment, paidWechatPayment, startedWechatPayment } from './support/payment-kits';
import { ScriptedProvider } from './support/scripted-provider';

/**
 * The periodic jobs' queries on the real database. Each leads with an equality (FerretDB v1 pushes only
 * those down; a date range alone read every payment ever stored, on every pass of every replica), so the
 * refund job asks for `refunds_pending: true`: a payment stored before that field existed is found only
 * once the start-up backfill has marked it.
 */
const logger = createLogger('sweep-test', 'error');

describe('payment jobs find what is due by an equality first', () => {
  it('finds a payment with a refund due, also one stored before refunds_pending once it is backfilled', async () => {
    const kit = await databaseKit(logger);
    try {
      const wechat = new ScriptedProvider();
      const calls: RefundCalls = { store: kit.store, providers: { wechatpay: wechat }, logger, queryAfterSeconds: 60, refundQueryAfterSeconds: 60 };
      const payment = await paidWechatPayment(kit, calls);
      wechat.failNext('refund', 'unknown');
      await refundAtProvider(calls, payment.id, { amountMinor: 1500, reason: 'returned', idempotencyKey: null, requestFingerprint: null }, 'admin:ops', { producer: 'test' });
      const later = new Date(Date.now() + 120_000);
      expect((await kit.model.findById(payment.id).lean())?.refunds_pending).toBe(true);
      expect((await kit.store.refundsDue(later, 10)).map((due) => due.id)).toEqual([payment.id]);

      // A database of the version before the field: its index, and a refund due without refunds_pending.
      expect(await backfillRefundsPending(kit.model)).toBe(0); // a database made by this version: nothing to do
      await kit.model.collection.createIndex({ refunds_due_at: 1 }, { name: LEGACY_REFUNDS_DUE_INDEX });
      await writeWithRetry(`payments/${payment.id}`, () => kit.model.collection.updateOne({ _id: payment.id as never }, bumpVersion({ $unset: { refunds_pending: '' } })));
      expect(await kit.store.refundsDue(later, 10)).toEqual([]);
      expect(await backfillRefundsPending(kit.model)).toBe(1);
      expect((await kit.store.refundsDue(later, 10)).map((due) => due.id)).toEqual([payment.id]);
      // Done once: the old index is gone, so the next start reads nothing.
      expect((await kit.model.collection.indexes()).map((index) => index.name)).not.toContain(LEGACY_REFUNDS_DUE_INDEX);
      expect(await backfillRefundsPending(kit.model)).toBe(0);
    } finally {
      await kit.close();
    }
  });

  it('finds overdue payments in every open status, and no closed one', async () => {
    const kit = await databaseKit(logger);
    try {
      const wechat = new ScriptedProvider();
      const calls: RefundCalls = { store: kit.store, providers: { wechatpay: wechat }, logger, queryAfterSeconds: 60, refundQueryAfterSeconds: 60 };
      const created = await newWechatPayment(kit);
      const started = await startedWechatPayment(kit, calls);
      const paid = await paidWechatPayment(kit, calls);
      for (const payment of [created, started, paid]) await kit.makeOverdue(payment.id);

      const overdue = await kit.store.overdue(new Date(), 10);
      expect(overdue.map((payment) => [payment.id, payment.status]).sort()).toEqual([[created.id, 'init'], [started.id, 'processing']].sort());
      expect(await kit.store.overdue(new Date(), 1)).toHaveLength(1);
    } finally {
      await kit.close();
    }
  });

  it("leads every job's query with a filter FerretDB pushes down to PostgreSQL (explain: filterPushdown)", async () => {
    const kit = await databaseKit(logger);
    try {
      const filters: Record<string, unknown>[] = [];
      kit.model.db.set('debug', (collection: string, method: string, filter: Record<string, unknown>) => {
        if (collection === 'payments' && method === 'find') filters.push(filter);
      });
      const now = new Date();
      await kit.store.overdue(now, 10);
      await kit.store.dueForQuery(now, 10);
      await kit.store.refundsDue(now, 10);
      kit.model.db.set('debug', false);
      expect(filters.length).toBeGreaterThanOrEqual(3);
      for (const filter of filters) {
        const explained = await kit.model.db.db!.command({ explain: { find: 'payments', filter }, verbosity: 'queryPlanner' });
        // FerretDB says whether the filter went to PostgreSQL; MongoDB has no such field (its planner uses the indexes).
        if ('filterPushdown' in explained) expect({ filter, pushdown: explained.filterPushdown }).toEqual({ filter, pushdown: true });
      }
    } finally {
      await kit.close();
    }
  });
});
