import mongoose, { type Connection } from 'mongoose';
import { ensureIndexes } from '@pay/db';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';
import { auditModels } from '../src/data-access/audit-models';
import { AuditQueries } from '../src/data-access/audit-queries';
import { CALLBACK_ACTIONS } from '../src/domain/daily-report';

/**
 * The daily report's read of a day's callback response times, on the real database. A day holds every
 * record of that day (80,000 in a 10,000-payment chaos run), and FerretDB v1 pushes equalities only down
 * to PostgreSQL: with the action as an `$in` it read and decoded the whole day (~6 s), and the report
 * outlasted the gateway's upstream timeout. Each query must be equalities alone.
 */
describe("the daily report's callback times", () => {
  let connection: Connection;

  beforeAll(async () => {
    connection = await mongoose.createConnection(testMongoUrl(), { dbName: isolatedPrefix('reportq'), maxPoolSize: 3, autoIndex: false }).asPromise();
  });

  afterAll(async () => {
    await connection.dropDatabase().catch(() => undefined);
    await connection.close();
  });

  it('reads them with one pushed-down equality query per callback action, and finds each action’s times', async () => {
    const models = auditModels(connection);
    await ensureIndexes(connection);
    const day = '2026-11-27';
    const record = (seq: number, action: string, recordDay: string, verifyMs: number | null) =>
      ({ _id: `ev-${seq}`, seq, action, day: recordDay, occurred_at: new Date(), verify_ms: verifyMs }) as never;
    await models.records.collection.insertMany([
      ...CALLBACK_ACTIONS.map((action, i) => record(i + 1, action, day, 10 + i)),
      record(10, 'payment_succeeded', day, null),
      record(11, 'callback_verified', '2026-11-26', 99), // another day
    ]);

    const filters: Record<string, unknown>[] = [];
    connection.set('debug', (collection: string, method: string, filter: Record<string, unknown>) => {
      if (collection === 'audit_records' && method === 'find') filters.push(filter);
    });
    const times = await new AuditQueries(models).callbackTimes(day);
    connection.set('debug', false);

    expect(times.sort()).toEqual(CALLBACK_ACTIONS.map((_, i) => 10 + i));
    expect(filters).toHaveLength(CALLBACK_ACTIONS.length);
    for (const filter of filters) {
      expect(Object.values(filter).every((value) => typeof value === 'string')).toBe(true);
      const explained = await connection.db!.command({ explain: { find: 'audit_records', filter }, verbosity: 'queryPlanner' });
      // FerretDB says whether the filter went to PostgreSQL; MongoDB has no such field (its planner uses the indexes).
      if ('filterPushdown' in explained) expect({ filter, pushdown: explained.filterPushdown }).toEqual({ filter, pushdown: true });
    }
  });
});
