import { createLogger } from '@pay/logger';
import { connectMongo } from '../src';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';

const logger = createLogger('db-test', 'error');
logger.silent = true;

describe('counting the commands a service sends (real database)', () => {
  it('tells of each command with its collection, once per round trip', async () => {
    const commands: string[] = [];
    const connection = await connectMongo({
      url: testMongoUrl(),
      dbName: isolatedPrefix('commands'),
      maxPoolSize: 2,
      logger,
      onCommand: (command, collection) => commands.push(`${command} ${collection}`),
    });
    try {
      const things = connection.db!.collection('things');
      commands.length = 0; // what the connection itself sent while opening is not the test's
      await things.insertOne({ _id: 'a' as never, n: 1 });
      await things.findOne({ _id: 'a' as never });
      await things.updateOne({ _id: 'a' as never }, { $set: { n: 2 } });
      await things.insertMany([{ _id: 'b' as never }, { _id: 'c' as never }]);
      expect(commands).toEqual(['insert things', 'find things', 'update things', 'insert things']);
      await connection.db!.admin().command({ ping: 1 });
      expect(commands.at(-1)).toBe('ping ');
    } finally {
      await connection.dropDatabase();
      await connection.close();
    }
  });

  it('sends no command events when nobody counts them', async () => {
    const connection = await connectMongo({ url: testMongoUrl(), dbName: isolatedPrefix('nocount'), maxPoolSize: 2, logger });
    try {
      expect(connection.getClient().options.monitorCommands).toBe(false);
    } finally {
      await connection.close();
    }
  });
});
