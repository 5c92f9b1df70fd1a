import { MongoClient, type Collection } from 'mongodb';
import { Client } from 'pg';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';
import { guardedTables } from '../src';

interface Doc {
  _id: string;
  version: number;
  n: number;
}

/**
 * The embedded FerretDB's half of the versioned write path: a PostgreSQL trigger that refuses any write
 * of a versioned document whose new version is not the stored one plus one. Only meaningful where the
 * harness runs FerretDB on PostgreSQL (the default here); on a real MongoDB (MONGO_URL) or on the SQLite
 * fallback there is no such trigger, and these tests are skipped for that stated reason.
 */
const onFerretPostgres = Boolean(process.env.TEST_FERRET_PG_DATABASE);
const itOnFerretPostgres = onFerretPostgres ? it : it.skip;

describe('FerretDB version guard (two connections, one document)', () => {
  let a: MongoClient;
  let b: MongoClient;
  let docsA: Collection<Doc>;
  let docsB: Collection<Doc>;
  let dbName: string;

  beforeAll(async () => {
    dbName = isolatedPrefix('guard');
    a = await MongoClient.connect(testMongoUrl(), { maxPoolSize: 10 });
    b = await MongoClient.connect(testMongoUrl(), { maxPoolSize: 10 });
    docsA = a.db(dbName).collection<Doc>('docs');
    docsB = b.db(dbName).collection<Doc>('docs');
  });

  afterAll(async () => {
    await a.db(dbName).dropDatabase();
    await a.close();
    await b.close();
  });

  itOnFerretPostgres('guards every table FerretDB creates, and none of its own metadata tables', async () => {
    await docsA.insertOne({ _id: 'probe', version: 1, n: 0 });
    const pg = new Client({ host: '127.0.0.1', user: 'postgres', database: process.env.TEST_FERRET_PG_DATABASE });
    await pg.connect();
    try {
      const tables = await guardedTables(pg);
      expect(tables.some((table) => table.startsWith(`${dbName}.docs_`))).toBe(true);
      expect(tables.filter((table) => table.includes('_ferretdb_'))).toEqual([]);
    } finally {
      await pg.end();
    }
  });

  itOnFerretPostgres('refuses a stale write: one that writes a document back without moving its version on', async () => {
    await docsA.insertOne({ _id: 'stale', version: 1, n: 0 });
    // What FerretDB does for a writer that read version 1 after another writer stored version 2: it
    // writes its whole document back, version 2 again. The trigger sees stored 2, written 2.
    await docsB.updateOne({ _id: 'stale', version: 1 }, { $inc: { version: 1, n: 1 } });
    await expect(docsA.updateOne({ _id: 'stale' }, { $set: { n: 99 } })).rejects.toThrow(/pay_version_conflict/);
    await expect(docsA.updateOne({ _id: 'stale' }, { $set: { n: 99, version: 2 } })).rejects.toThrow(/pay_version_conflict/);
    expect(await docsA.findOne({ _id: 'stale' })).toMatchObject({ version: 2, n: 1 });
    // A write that moves the version on by one is fine, and a document without a version is not guarded.
    await docsA.updateOne({ _id: 'stale' }, { $inc: { version: 1 }, $set: { n: 5 } });
    await docsA.insertOne({ _id: 'plain', version: undefined as never, n: 0 });
    await docsA.updateOne({ _id: 'plain' }, { $set: { n: 1 } });
  });

  itOnFerretPostgres('loses no update when two connections race conditional writes on one document', async () => {
    await docsA.insertOne({ _id: 'race', version: 1, n: 0 });
    let applied = 0;
    let refused = 0;
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const docs = i % 2 ? docsA : docsB;
        const read = (await docs.findOne({ _id: 'race' }))!;
        try {
          const written = await docs.findOneAndUpdate({ _id: 'race', version: read.version }, { $inc: { version: 1, n: 1 } }, { returnDocument: 'after' });
          if (written) applied++;
        } catch (error) {
          expect((error as Error).message).toMatch(/pay_version_conflict/);
          refused++;
        }
      }),
    );
    const final = (await docsA.findOne({ _id: 'race' }))!;
    // Every write that reported success is in the document, and nothing else is.
    expect(final.n).toBe(applied);
    expect(final.version).toBe(1 + applied);
    console.log(`[guard] 40 racing writes: ${applied} applied, ${refused} refused by the guard, ${40 - applied - refused} found the version moved`);
  });
});
