import { setTimeout as sleep } from 'node:timers/promises';
import { DocumentLocks } from './document-locks';
import { isDuplicateKeyError } from './duplicate-key';

/**
 * Every shared mutable document carries `version`, and every write to it adds one. On MongoDB a write
 * filtered on `{_id, version}` is atomic by itself. FerretDB v1 re-reads nothing at write time (it
 * reads, changes the document in Go, then writes the whole document back), so on the embedded FerretDB
 * a PostgreSQL trigger (libs/harness, version-guard.ts) refuses any write whose new version is not the
 * stored one plus one: of two writers that read the same version, the second is refused with this
 * marker in the error, instead of silently overwriting the first.
 */
export const VERSION_FIELD = 'version';
export const VERSION_CONFLICT_MARKER = 'pay_version_conflict';

/** The database refused a write decided on a version that another writer has since replaced. */
export function isVersionConflict(error: unknown): boolean {
  return error instanceof Error && error.message.includes(VERSION_CONFLICT_MARKER);
}

/** A document kept changing under us for longer than the retries allow; safe to retry later. */
export class WriteContention extends Error {
  constructor(readonly key: string, attempts: number) {
    super(`${key} kept changing concurrently (${attempts} attempts); retry`);
    this.name = 'WriteContention';
  }
}

type Update = Record<string, unknown>;

/** Adds the version bump to an update: no write to a versioned document may leave its version as it was. */
export function bumpVersion(update: Update): Update {
  const inc = (update.$inc as Record<string, number> | undefined) ?? {};
  return { ...update, $inc: { ...inc, [VERSION_FIELD]: 1 } };
}

/**
 * Serialises this process's writers of one document: not what makes a write correct across replicas
 * (the version guard does), but it turns most same-process races into a queue instead of a refused
 * write and a retry, and on the SQLite fallback (no guard) it is what keeps one replica correct.
 */
const documentLocks = new DocumentLocks();

export interface RetryOptions {
  attempts?: number;
  /** Upper bound of the random pause before attempt n is `n × jitterMs`. */
  jitterMs?: number;
  /** Also run again on a duplicate key: two upserts of one new document raced and this one lost the insert. */
  upsert?: boolean;
}

/**
 * Runs one write to the document `key` (`<collection>/<id>`) and runs it again, after a short random
 * pause, when the database refused it as stale: `write` must decide afresh each time it is called
 * (re-read, or a filter the database evaluates). Gives up with WriteContention after `attempts`.
 */
export async function writeWithRetry<T>(key: string, write: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 8;
  const jitterMs = options.jitterMs ?? 15;
  for (let attempt = 1; ; attempt++) {
    try {
      return await documentLocks.run(key, write);
    } catch (error) {
      if (!isVersionConflict(error) && !(options.upsert && isDuplicateKeyError(error))) throw error;
      if (attempt >= attempts) throw new WriteContention(key, attempt);
      await sleep(Math.floor(Math.random() * jitterMs * attempt));
    }
  }
}

/**
 * One write to the document `key` (`<collection>/<id>`), decided on a version the caller read, run once
 * under this process's lock of the document: null when the database refused it as stale (another
 * process wrote first), so the caller re-reads and decides again.
 */
export async function writeIfCurrent<T>(key: string, write: () => Promise<T>): Promise<T | null> {
  try {
    return await documentLocks.run(key, write);
  } catch (error) {
    if (isVersionConflict(error)) return null;
    throw error;
  }
}
