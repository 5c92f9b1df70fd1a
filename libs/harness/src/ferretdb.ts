import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { canConnect, freePort, waitFor } from './ports';
import { mirrorIndexes } from './index-mirror';
import { installVersionGuard } from './version-guard';

const run = promisify(execFile);
export const FERRETDB_VERSION = 'v1.24.2';
const SOURCE_DIR = path.resolve(__dirname, '..', 'ferretdb');
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export function ferretDbBinaryPath(): string {
  const cacheDir = process.env.FERRETDB_CACHE_DIR ?? path.join(REPO_ROOT, '.cache', 'ferretdb');
  return path.join(cacheDir, `ferretdb-embedded-${FERRETDB_VERSION}`);
}

/**
 * Builds our small Go program that embeds FerretDB (pinned in ferretdb/go.mod) once into the cache.
 * `go install` of FerretDB's own command panics (empty version.txt), hence the embedding.
 */
export async function ensureFerretDbBinary(log: (line: string) => void = () => undefined): Promise<string> {
  const binary = ferretDbBinaryPath();
  if (existsSync(binary)) return binary;
  mkdirSync(path.dirname(binary), { recursive: true });
  log(`building FerretDB ${FERRETDB_VERSION} (first run only; Go modules from the module proxy)...`);
  const temporary = `${binary}.${process.pid}.tmp`;
  try {
    await run('go', ['build', '-trimpath', '-o', temporary, '.'], { cwd: SOURCE_DIR, maxBuffer: 64 * 1024 * 1024, timeout: 15 * 60_000 });
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr ?? (error as Error).message;
    throw new Error(`could not build FerretDB (is Go installed and the module proxy reachable?): ${detail.slice(-2000)}`);
  }
  renameSync(temporary, binary); // atomic: a concurrent builder never runs a half-written file
  return binary;
}

export interface FerretDb {
  url: string;
  backend: 'postgresql' | 'sqlite';
  /** The PostgreSQL database behind it (postgresql backend): where the version guard and index mirror live. */
  postgres: { host: string; port: number; database: string } | null;
  /** Kills the server (SIGKILL), waits `downMs`, starts it again on the same port with the same data. */
  crash(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface FerretDbOptions {
  /** PostgreSQL database to hold this FerretDB's data; created if missing. */
  postgresDatabase: string;
  /** Drop that PostgreSQL database on stop (test runs). */
  dropOnStop?: boolean;
  postgresHost?: string;
  postgresPort?: number;
  /** FerretDB's PostgreSQL pool; every mongoose pool sharing this server together stays well below it. */
  poolMaxConns?: number;
  sqliteDir?: string;
  logFile?: string;
  log?: (line: string) => void;
}

async function postgresAnswers(host: string, port: number): Promise<boolean> {
  if (!(await canConnect(host, port))) return false;
  const client = new Client({ host, port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function withPostgres<T>(host: string, port: number, fn: (client: Client) => Promise<T>, database = 'postgres'): Promise<T> {
  const client = new Client({ host, port, user: 'postgres', database, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Starts FerretDB on a free port: PostgreSQL backend when the local PostgreSQL answers, SQLite otherwise. */
export async function startFerretDb(options: FerretDbOptions): Promise<FerretDb> {
  const log = options.log ?? (() => undefined);
  const binary = await ensureFerretDbBinary(log);
  const pgHost = options.postgresHost ?? '127.0.0.1';
  const pgPort = options.postgresPort ?? 5432;
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const database = options.postgresDatabase;
  if (!/^[a-z0-9_]{1,60}$/.test(database)) throw new Error(`bad PostgreSQL database name ${database}`);

  let args: string[];
  let backend: FerretDb['backend'];
  let sqliteDir: string | null = null;
  // FERRETDB_BACKEND=sqlite forces the fallback (to exercise it, or where PostgreSQL must not be used).
  if (process.env.FERRETDB_BACKEND !== 'sqlite' && (await postgresAnswers(pgHost, pgPort))) {
    await withPostgres(pgHost, pgPort, async (client) => {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${database}`);
    });
    // Before FerretDB creates any table, so every collection table gets the guard as it is created.
    await withPostgres(pgHost, pgPort, installVersionGuard, database);
    // Same moment, same reason: GIN twins of the declared indexes (and `_id`) for tables to come and for
    // those of an earlier run, and `plan_cache_mode = force_custom_plan`, which reaches only connections
    // opened afterwards, i.e. FerretDB's whole pool (see index-mirror.ts).
    await withPostgres(pgHost, pgPort, mirrorIndexes, database);
    backend = 'postgresql';
    const pool = options.poolMaxConns ?? 50;
    args = ['-listen', listen, '-handler', 'postgresql', '-postgresql-url', `postgres://postgres@${pgHost}:${pgPort}/${database}?pool_max_conns=${pool}`];
  } else {
    backend = 'sqlite';
    sqliteDir = options.sqliteDir ?? mkdtempSync(path.join(os.tmpdir(), 'ferretdb-'));
    mkdirSync(sqliteDir, { recursive: true });
    args = ['-listen', listen, '-handler', 'sqlite', '-sqlite-url', `file:${sqliteDir}/`];
    const why = process.env.FERRETDB_BACKEND === 'sqlite' ? 'FERRETDB_BACKEND=sqlite' : `PostgreSQL not answering on ${pgHost}:${pgPort}`;
    log(`${why}; FerretDB uses SQLite in ${sqliteDir} (slower)`);
  }

  // One FerretDB process on `listen`; `crash` starts another on the same port (chaos runs kill the
  // database under the services, which must reconnect to the same URL).
  let child: ChildProcess;
  let exited = false;
  const launch = async (): Promise<void> => {
    const started = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    exited = false;
    if (options.logFile) {
      const out = createWriteStream(options.logFile, { flags: 'a' });
      started.stdout?.pipe(out);
      started.stderr?.pipe(out);
    } else {
      started.stdout?.resume();
      started.stderr?.resume();
    }
    started.once('exit', () => {
      if (child === started) exited = true;
    });
    await waitFor(`FerretDB on ${listen}`, async () => {
      if (exited) throw new Error('FerretDB exited at start');
      return canConnect('127.0.0.1', port, 500);
    }, 30_000);
  };
  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    if (exited) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  };
  await launch();

  return {
    url: `mongodb://127.0.0.1:${port}`,
    backend,
    postgres: backend === 'postgresql' ? { host: pgHost, port: pgPort, database } : null,
    async crash(downMs = 0) {
      await halt('SIGKILL');
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      await launch();
    },
    async stop() {
      await halt('SIGTERM');
      if (options.dropOnStop && backend === 'postgresql') {
        await withPostgres(pgHost, pgPort, (client) => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)).catch(() => undefined);
      }
      if (options.dropOnStop && sqliteDir && !options.sqliteDir) rmSync(sqliteDir, { recursive: true, force: true });
    },
  };
}
