import mongoose, { type Connection } from 'mongoose';
import type { AnyEvent } from '@pay/contracts';
import { ensureIndexes } from '@pay/db';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';
import { auditModels, type AuditModels } from '../src/data-access/audit-models';
import { AuditRepository } from '../src/data-access/audit-repository';
import { buildAuditEntry } from '../src/domain/audit-record';
import type { AuditRecord } from '../src/domain/hash-chain';
import { reconcile, reconciliationRowsOf, type ReconciliationRow } from '../src/domain/reconciliation';
import {
  callbackVerified,
  duplicatePaid,
  orderPaid,
  paymentCreated,
  paymentExpired,
  paymentLateSuccess,
  paymentRefunded,
  paymentSucceeded,
} from './audit-fixtures';

/**
 * Two replicas of the audit service on one real database (FerretDB from jest's global setup, or
 * MONGO_URL). Each replica loads its own copy of the modules, as a separate process would: the
 * in-process document locks of @pay/db must not quietly serialise the two, or this would prove nothing
 * about the database-enforced guard. On the SQLite fallback there is no such guard (one replica only),
 * so the race is not run there.
 */
const multiProcessSafe = process.env.TEST_MULTI_PROCESS_SAFE !== '0';
const itWithReplicas = multiProcessSafe ? it : it.skip;

const DAY_1 = '2024-03-15';
const DAY_2 = '2024-03-16';
const PAYMENTS = 50;
const AMOUNT = 9900;

const at = (day: string, n: number) => new Date(Date.parse(`${day}T10:00:00.000Z`) + n * 1000).toISOString();

/**
 * 209 events: for each of 50 payments, created and its callback verified on day 1, then either
 * succeeded on day 1 and its order paid on day 2, or (every tenth) expired on day 1, succeeded late on
 * day 2 and refunded in full on day 2. A succeeded payment's reconciliation row gets fields from two
 * records (succeeded, paid). Payments 1 and 26 are paid again on day 2 (duplicates); payment 1's
 * duplicate is refunded in two parts: rows that add up (`$inc`) from several records.
 */
function replicaEvents(): AnyEvent[] {
  const events: AnyEvent[] = [];
  for (let n = 1; n <= PAYMENTS; n++) {
    const late = n % 10 === 0;
    events.push(paymentCreated(n, at(DAY_1, n)), callbackVerified(n, n, at(DAY_1, 100 + n)));
    events.push(late ? paymentExpired(n, at(DAY_1, 200 + n)) : paymentSucceeded(n, at(DAY_1, 200 + n)));
    events.push(late ? paymentLateSuccess(n, at(DAY_2, n)) : orderPaid(n, at(DAY_2, n)));
    if (late) events.push(paymentRefunded(n, { refundMinor: AMOUNT, refundedMinor: AMOUNT }, at(DAY_2, 100 + n)));
    if (n % 25 === 1) events.push(duplicatePaid(n, at(DAY_2, 200 + n)));
  }
  events.push(
    paymentRefunded(1, { refundMinor: 3000, refundedMinor: 3000, paidMinor: 2 * AMOUNT }, at(DAY_2, 300)),
    paymentRefunded(1, { refundMinor: AMOUNT - 3000, refundedMinor: AMOUNT, paidMinor: 2 * AMOUNT, sequence: 2 }, at(DAY_2, 301)),
  );
  return events;
}

interface Replica {
  connection: Connection;
  store: AuditRepository;
}

const connections: Connection[] = [];

/** A replica of the audit service: its own module instances, its own connection to the shared database. */
async function startReplica(dbName: string): Promise<Replica> {
  let modules: [typeof import('mongoose'), typeof import('../src/data-access/audit-models'), typeof import('../src/data-access/audit-repository')];
  await jest.isolateModulesAsync(async () => {
    modules = await Promise.all([import('mongoose'), import('../src/data-access/audit-models'), import('../src/data-access/audit-repository')]);
  });
  const [{ default: ownMongoose }, { auditModels: ownModels }, { AuditRepository: OwnRepository }] = modules!;
  const connection = ownMongoose.createConnection(testMongoUrl(), { dbName, maxPoolSize: 3, autoIndex: false });
  connections.push(connection);
  await connection.asPromise();
  return { connection, store: new OwnRepository(ownModels(connection)) };
}

/** Appends one event after the other, as a consumer with one delivery in hand. */
async function appendOneByOne(store: AuditRepository, events: AnyEvent[]): Promise<void> {
  for (const event of events) await store.append(buildAuditEntry(event, new Date()));
}

/** Appends them all at once, as a consumer with many deliveries in hand: they go in runs (group commit). */
async function appendTogether(store: AuditRepository, events: AnyEvent[]): Promise<void> {
  await Promise.all(events.map((event) => store.append(buildAuditEntry(event, new Date()))));
}

/** How each replica is handed the events: a few one by one, or many in hand at once (prefetch > 1). */
const DELIVERIES: [string, number, typeof appendOneByOne][] = [
  ['two at a time, one by one', 2, appendOneByOne],
  ['thirty in hand at once, appended in runs', 30, appendTogether],
];

afterAll(async () => {
  for (const connection of connections) {
    await connection.dropDatabase().catch(() => undefined);
    await connection.close();
  }
});

describe('audit log with two replicas on one database', () => {
  itWithReplicas.each(DELIVERIES)(
    'chains, counts and reconciles every event exactly once when two replicas record the same events in different orders (%s)',
    async (_delivery, burst, appendAll) => {
      const dbName = isolatedPrefix('replicas');
      // The observer: creates the indexes and reads the outcome, as an operator would.
      const observer = mongoose.createConnection(testMongoUrl(), { dbName, maxPoolSize: 2, autoIndex: false });
      connections.push(observer);
      await observer.asPromise();
      const models: AuditModels = auditModels(observer);
      await ensureIndexes(observer);

      const first = await startReplica(dbName);
      const second = await startReplica(dbName);
      const events = replicaEvents();

      // Every event is delivered to both replicas (a redelivery after a lost ack), in opposite orders,
      // `burst` at a time; after each delivery both fold at once, so they keep folding the same records.
      // In runs, the two replicas' runs interleave in the chain and their folds overlap part-way.
      const forward = events;
      const backward = [...events].reverse();
      let counted = 0;
      for (let start = 0; start < events.length; start += burst) {
        await Promise.all([appendAll(first.store, forward.slice(start, start + burst)), appendAll(second.store, backward.slice(start, start + burst))]);
        const folds = await Promise.all([first.store.foldPending(), second.store.foldPending()]);
        counted += folds[0] + folds[1];
      }
      // Each record was counted by exactly one replica. FerretDB v1 writes back what it read, so without
      // the guard both replicas can apply one record, the second write silently replacing the first
      // (the figures may still look right, both having written the same), or a late write can replace
      // a newer record's: here both replicas would have counted it.
      expect(counted).toBe(events.length);

      // The chain: each event once, seqs 1..209 without a gap, intact, the head on the last record.
      const records = await models.records.find({}).sort({ seq: 1 }).lean<AuditRecord[]>();
      expect(records.map((record) => record.seq)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
      expect(new Set(records.map((record) => record._id))).toEqual(new Set(events.map((event) => event.id)));
      expect(await first.store.verify()).toEqual({ ok: true, checked: events.length, from_checkpoint: 0, checkpoints: 1, keyed: false, anchor: null, unanchored_records: events.length });
      expect(await models.chainHead.findById('head').lean()).toMatchObject({ seq: events.length, hash: records.at(-1)!.hash });

      // The daily figures: every record counted once, nothing lost, nothing counted twice.
      const late = PAYMENTS / 10;
      const succeeded = PAYMENTS - late;
      expect(await second.store.dayStats(DAY_1)).toEqual({
        counts: { payment_created: PAYMENTS, callback_verified: PAYMENTS, payment_succeeded: succeeded, payment_expired: late },
        amount_minor: {
          payment_created: { CNY: PAYMENTS * AMOUNT },
          payment_succeeded: { CNY: succeeded * AMOUNT },
          payment_expired: { CNY: late * AMOUNT },
        },
      });
      expect(await second.store.dayStats(DAY_2)).toEqual({
        counts: { order_paid: succeeded, payment_late_success: late, payment_refunded: late + 2, payment_duplicate_paid: 2 },
        amount_minor: {
          order_paid: { CNY: succeeded * AMOUNT },
          payment_late_success: { CNY: late * AMOUNT },
          payment_refunded: { CNY: (late + 1) * AMOUNT },
          payment_duplicate_paid: { CNY: 2 * AMOUNT },
        },
      });

      // Reconciliation: every field either replica wrote is there, as if one folder had folded the chain.
      const rows = await models.reconciliation.find({}, { last_seq: 0, version: 0 }).lean();
      const stored = rows.map(({ _id, ...fields }) => ({ ...fields, payment_id: _id }) as ReconciliationRow);
      expect(sortByPayment(stored)).toEqual(sortByPayment(reconciliationRowsOf(records)));
      expect(stored.filter((row) => row.succeeded_day === DAY_1 && row.paid_day === DAY_2)).toHaveLength(succeeded);
      expect(stored.filter((row) => row.late_success_day === DAY_2 && row.transaction_id?.startsWith('late-tx'))).toHaveLength(late);
      expect(stored.find((row) => row.payment_id === 'p1')).toMatchObject({
        duplicates: { [DAY_2]: { count: 1, amount_minor: AMOUNT } },
        refunds: { [DAY_2]: { count: 2, amount_minor: AMOUNT } },
      });
      // Every late success refunded in full, payment 1's duplicate refunded, payment 26's still open.
      const open = reconcile(stored, DAY_2);
      expect(open.late_successes).toEqual([]);
      expect(open.duplicate_payments.map((item) => item.payment_id)).toEqual(['p26']);
      expect(open.refunded_in_full).toHaveLength(late + 1);

      expect(await models.foldCursor.findById('daily_stats').lean()).toMatchObject({ seq: events.length });
    },
    240_000,
  );
});

function sortByPayment(rows: ReconciliationRow[]): ReconciliationRow[] {
  return [...rows].sort((a, b) => (a.payment_id < b.payment_id ? -1 : a.payment_id > b.payment_id ? 1 : 0));
}
