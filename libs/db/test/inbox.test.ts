import mongoose, { type Connection } from 'mongoose';
import { createInbox } from '../src';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';

describe('inbox (real database)', () => {
  let connection: Connection;

  beforeAll(async () => {
    connection = await mongoose.createConnection(testMongoUrl(), { dbName: isolatedPrefix('inbox'), maxPoolSize: 3 }).asPromise();
  });

  afterAll(async () => {
    await connection.dropDatabase();
    await connection.close();
  });

  it('remembers a handled event id, and recording it twice (a redelivery) is harmless', async () => {
    const inbox = createInbox(connection);
    expect(await inbox.seen('e-1')).toBe(false);
    await inbox.record('e-1', 'order.created');
    await Promise.all([inbox.record('e-1', 'order.created'), inbox.record('e-1', 'order.created')]);
    expect(await inbox.seen('e-1')).toBe(true);
    expect(await inbox.seen('e-2')).toBe(false);
    expect(await connection.db!.collection('processed_events').countDocuments({})).toBe(1);
  });
});
