import { MongoClient, type Collection } from 'mongodb';
import { Client } from 'pg';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';
import { mirrorIndexes, mirroredIndexes } from '../src/index-mirror';

interface Item {
  _id: string;
  sku: string;
  owner: string;
  status: string;
  version: number;
  meta: { kind: string };
  tag?: string;
}

/**
 * The embedded FerretDB answers equality queries from GIN twins of the declared indexes (and `_id`) that
 * the harness keeps in step (libs/harness/src/index-mirror.ts). Only meaningful where the harness runs
 * FerretDB on PostgreSQL (the default here); on a real MongoDB (MONGO_URL) or on the SQLite fallback there
 * is no PostgreSQL to look into, and these tests are skipped for that stated reason.
 */
const pgDatabase = process.env.TEST_FERRET_PG_DATABASE;
const itOnFerretPostgres = pgDatabase ? it : it.skip;
const DOCUMENTS = 20_000;

/** The name the mirror gives a field's twin on a table (the same rule as pay_gin_index_name). */
function twinOf(twins: { index: string }[], table: string, field: string): string | undefined {
  const body = `${table}_${field}`.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 46);
  return twins.find((twin) => twin.index.startsWith(`pay_gin_${body}_`) && twin.index.length === `pay_gin_${body}_`.length + 8)?.index;
}

/** Finds per second for a few seconds (one client, sequential), no assertion on the number. */
async function perSecond(op: (i: number) => Promise<unknown>, millis = 3000): Promise<number> {
  const start = Date.now();
  let done = 0;
  while (Date.now() - start < millis) await op(done++);
  return Math.round(done / ((Date.now() - start) / 1000));
}

describe('FerretDB index mirror (GIN twins of the declared indexes)', () => {
  let mongo: MongoClient;
  let items: Collection<Item>;
  let pg: Client;
  let dbName: string;
  let table: string;

  const twins = async () => (await mirroredIndexes(pg, dbName)).filter((twin) => twin.table === table);

  beforeAll(async () => {
    if (!pgDatabase) return;
    dbName = isolatedPrefix('mirror');
    mongo = await MongoClient.connect(testMongoUrl(), { maxPoolSize: 4 });
    items = mongo.db(dbName).collection<Item>('items');
    // Declared before the data, as ensureIndexes does at service start.
    await items.createIndex({ sku: 1 }, { unique: true });
    await items.createIndex({ owner: 1, status: -1 });
    await items.createIndex({ 'meta.kind': 1 });
    for (let batch = 0; batch < DOCUMENTS / 1000; batch++) {
      await items.insertMany(
        Array.from({ length: 1000 }, (_, j) => {
          const i = batch * 1000 + j;
          return { _id: `item-${i}`, sku: `sku-${i}`, owner: `u${i % 50}`, status: ['open', 'done', 'void'][i % 3]!, version: 1, meta: { kind: `k${i % 7}` } };
        }),
      );
    }
    pg = new Client({ host: '127.0.0.1', user: 'postgres', database: pgDatabase });
    await pg.connect();
    const meta = await pg.query<{ table: string }>(
      `SELECT _jsonb->>'table' AS table FROM ${pg.escapeIdentifier(dbName)}._ferretdb_database_metadata WHERE _jsonb->>'_id' = 'items'`,
    );
    table = meta.rows[0]!.table;
  }, 180_000);

  afterAll(async () => {
    if (!pgDatabase) return;
    await pg?.end();
    await mongo?.db(dbName).dropDatabase();
    await mongo?.close();
  });

  itOnFerretPostgres('twins `_id` and every top-level field of every declared index, not dotted ones', async () => {
    const present = await twins();
    for (const field of ['_id', 'sku', 'owner', 'status']) {
      const name = twinOf(present, table, field);
      expect(name).toBeDefined();
      expect(present.find((twin) => twin.index === name)!.definition).toContain(`USING gin (((_jsonb -> '${field}'::text)) jsonb_path_ops) WITH (fastupdate=off)`);
    }
    // FerretDB does not push `meta.kind` down (nested pushdown is off), so a twin would never be used.
    expect(present).toHaveLength(4);
    expect(present.every((twin) => twin.index.length <= 63)).toBe(true);
  });

  itOnFerretPostgres('sets plan_cache_mode = force_custom_plan for every new connection to the database', async () => {
    const fresh = new Client({ host: '127.0.0.1', user: 'postgres', database: pgDatabase });
    await fresh.connect();
    try {
      expect((await fresh.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode')).rows[0]?.plan_cache_mode).toBe('force_custom_plan');
    } finally {
      await fresh.end();
    }
  });

  itOnFerretPostgres("FerretDB's own plan for a find by _id, by the indexed field and by a compound filter uses the twins", async () => {
    // FerretDB's explain runs `EXPLAIN` of the SQL its find builds (the same prepareWhereClause), with the
    // same arguments, on its own pool: the plan the find gets.
    const present = await twins();
    const cases: [Partial<Item>, string[]][] = [
      [{ _id: 'item-1234' }, ['_id']],
      [{ sku: 'sku-777' }, ['sku']],
      [{ owner: 'u7', status: 'open' }, ['owner', 'status']],
    ];
    for (const [filter, fields] of cases) {
      const explained = await items.find(filter).explain();
      expect(explained.filterPushdown).toBe(true);
      const plan = JSON.stringify(explained.queryPlanner);
      expect(plan).toContain('"Bitmap Index Scan"');
      for (const field of fields) expect(plan).toContain(`"Index Name":"${twinOf(present, table, field)}"`);
      expect(plan).not.toContain('"Seq Scan"');
    }
    expect(await items.findOne({ _id: 'item-1234' })).toMatchObject({ sku: 'sku-1234' });
  });

  itOnFerretPostgres('the statements FerretDB prepares keep using the twins after many executions (custom plans)', async () => {
    // The exact text of FerretDB's Query (backends/postgresql/query.go: prepareSelectClause + filterEqual),
    // prepared once and executed repeatedly as pgx's statement cache does; a string is sent as JSON text.
    const relation = `${pg.escapeIdentifier(dbName)}.${pg.escapeIdentifier(table)}`;
    await pg.query(`PREPARE pay_find AS SELECT  _jsonb FROM ${relation} WHERE _jsonb->$1 @> $2`);
    await pg.query(`PREPARE pay_cas AS SELECT  _jsonb FROM ${relation} WHERE _jsonb->$1 @> $2 AND _jsonb->$3 @> $4`);
    try {
      for (let i = 0; i < 8; i++) {
        await pg.query(`EXECUTE pay_find('_id', '"item-${i}"')`);
        await pg.query(`EXECUTE pay_find('sku', '"sku-${i}"')`);
        await pg.query(`EXECUTE pay_cas('_id', '"item-${i}"', 'version', '1')`);
      }
      const present = await twins();
      const plan = async (sql: string) => (await pg.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`)).rows.map((row) => row['QUERY PLAN']).join('\n');
      expect(await plan(`EXECUTE pay_find('_id', '"item-99"')`)).toContain(`Bitmap Index Scan on ${twinOf(present, table, '_id')}`);
      expect(await plan(`EXECUTE pay_find('sku', '"sku-99"')`)).toContain(`Bitmap Index Scan on ${twinOf(present, table, 'sku')}`);
      // The conditional write's read ({_id, version}, what findOneAndUpdate on an aggregate runs).
      expect(await plan(`EXECUTE pay_cas('_id', '"item-99"', 'version', '1')`)).toContain(`Bitmap Index Scan on ${twinOf(present, table, '_id')}`);
      // Why the database setting matters: the generic plan of `_jsonb->$1` matches no index expression.
      await pg.query('SET plan_cache_mode = force_generic_plan');
      expect(await plan(`EXECUTE pay_find('_id', '"item-99"')`)).toContain('Seq Scan');
    } finally {
      await pg.query('RESET plan_cache_mode; DEALLOCATE pay_find; DEALLOCATE pay_cas');
    }
  });

  itOnFerretPostgres('keeps the twins in step with createIndex / dropIndex', async () => {
    await items.createIndex({ tag: 1 }, { name: 'tag_1' });
    expect(twinOf(await twins(), table, 'tag')).toBeDefined();
    await items.dropIndex('tag_1');
    expect(twinOf(await twins(), table, 'tag')).toBeUndefined();
    // A field still declared by another index keeps its twin when one of its indexes goes.
    await items.createIndex({ owner: 1 }, { name: 'owner_only' });
    await items.dropIndex('owner_only');
    expect(twinOf(await twins(), table, 'owner')).toBeDefined();
    // A collection created by a plain insert gets its `_id` twin at once.
    await mongo.db(dbName).collection('plain').insertOne({ _id: 'p1' } as never);
    const plain = await pg.query<{ table: string }>(
      `SELECT _jsonb->>'table' AS table FROM ${pg.escapeIdentifier(dbName)}._ferretdb_database_metadata WHERE _jsonb->>'_id' = 'plain'`,
    );
    const plainTable = plain.rows[0]!.table;
    const plainTwins = (await mirroredIndexes(pg, dbName)).filter((twin) => twin.table === plainTable);
    expect(twinOf(plainTwins, plainTable, '_id')).toBeDefined();
  });

  itOnFerretPostgres(`measures finds with and without the twins at ${DOCUMENTS} documents (printed, not asserted)`, async () => {
    const random = () => Math.floor(Math.random() * DOCUMENTS);
    const byId = () => perSecond(async () => expect(await items.findOne({ _id: `item-${random()}` })).not.toBeNull());
    const bySku = () => perSecond(async () => expect(await items.findOne({ sku: `sku-${random()}` })).not.toBeNull());
    const withTwins = { byId: await byId(), bySku: await bySku() };

    const present = await twins();
    const removed = [twinOf(present, table, '_id')!, twinOf(present, table, 'sku')!];
    for (const index of removed) await pg.query(`DROP INDEX ${pg.escapeIdentifier(dbName)}.${pg.escapeIdentifier(index)}`);
    const withoutTwins = { byId: await byId(), bySku: await bySku() };

    // The start-up pass (what the harness runs before FerretDB starts) puts them back.
    await mirrorIndexes(pg);
    const restored = (await twins()).map((twin) => twin.index);
    for (const index of removed) expect(restored).toContain(index);

    console.log(
      `[index-mirror] ${DOCUMENTS} documents, one client: find by _id ${withoutTwins.byId}/s without the GIN twin → ${withTwins.byId}/s with it; ` +
        `find by an indexed field ${withoutTwins.bySku}/s → ${withTwins.bySku}/s`,
    );
  }, 120_000);
});
