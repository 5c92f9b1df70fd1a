import mongoose, { type Connection } from 'mongoose';
import type { Logger } from '@pay/logger';

export interface MongoOptions {
  url: string;
  dbName: string;
  /** Keep the sum over services sharing one FerretDB well below its PostgreSQL pool (see design). */
  maxPoolSize: number;
  logger: Logger;
  /**
   * Told of every command sent to the database (its name and, for commands on a collection, the
   * collection): the service counts them (db_commands_total), which is how round trips per flow are measured.
   */
  onCommand?: (command: string, collection: string) => void;
}

/** Opens a dedicated mongoose connection (never the global one) to the service's own database. */
export async function connectMongo({ url, dbName, maxPoolSize, logger, onCommand }: MongoOptions): Promise<Connection> {
  const connection = mongoose.createConnection(url, {
    dbName,
    maxPoolSize,
    serverSelectionTimeoutMS: 10_000,
    // Indexes are created explicitly by `syncIndexes` at start-up so a failure is visible, not swallowed.
    autoIndex: false,
    monitorCommands: onCommand !== undefined,
  });
  if (onCommand) {
    connection.getClient().on('commandStarted', (started) => {
      const target: unknown = started.command[started.commandName];
      onCommand(started.commandName, typeof target === 'string' ? target : '');
    });
  }
  connection.on('disconnected', () => logger.warn('mongodb disconnected', { db: dbName }));
  connection.on('reconnected', () => logger.info('mongodb reconnected', { db: dbName }));
  await connection.asPromise();
  logger.info('mongodb connected', { db: dbName, maxPoolSize });
  return connection;
}

/** Creates every declared index of every model on the connection (unique ones enforce invariants). */
export async function ensureIndexes(connection: Connection): Promise<void> {
  for (const model of Object.values(connection.models)) {
    await model.createCollection().catch((error: { code?: number }) => {
      if (error.code !== 48) throw error; // 48: collection already exists
    });
    await model.createIndexes();
  }
}

export async function pingMongo(connection: Connection): Promise<boolean> {
  try {
    if (connection.readyState !== 1 || !connection.db) return false;
    await connection.db.admin().command({ ping: 1 });
    return true;
  } catch {
    return false;
  }
}

export { isDuplicateKeyError } from './duplicate-key';

/** The database name of a service in this environment: `<prefix>_<name>` or just `<name>`. */
export function databaseName(prefix: string, name: string): string {
  return prefix ? `${prefix}_${name}` : name;
}

export { createInbox, type MongoInbox } from './inbox';
export { DocumentLocks } from './document-locks';
export { bumpVersion, writeIfCurrent, writeWithRetry } from './versioned-write';
export { findPage } from './find-page';
export { dropIndexIfPresent, hasIndex } from './legacy-index';
