import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { startFerretDb } from './ferretdb';

const run = promisify(execFile);

export interface Infrastructure {
  mongoUrl: string;
  amqpUrl: string;
  /** What serves MONGO_URL: 'external' (MONGO_URL given), 'ferretdb-postgresql', 'ferretdb-sqlite', 'testcontainers'. */
  database: string;
  broker: string;
  /**
   * Whether writes to one document from several processes are guarded by the database (MongoDB, or the
   * embedded FerretDB on PostgreSQL with the version guard). False on the SQLite fallback: run one
   * replica of each service there.
   */
  multiProcessSafe: boolean;
  /** The PostgreSQL database behind the embedded FerretDB, when that is what serves MONGO_URL. */
  ferretPostgres: { host: string; port: number; database: string } | null;
  /** Kills and restarts the database server (the embedded FerretDB only; null for one this harness did not start). */
  crashDatabase: ((downMs?: number) => Promise<void>) | null;
  stop(): Promise<void>;
}

export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

export async function brokerAnswers(url: string): Promise<boolean> {
  try {
    const connection = await amqp.connect(url, { timeout: 3000 });
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

async function dockerEngineReachable(): Promise<boolean> {
  try {
    await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

export interface InfrastructureOptions {
  /** Names this run's PostgreSQL database for FerretDB (e.g. `pay_test_<runid>` or `payments_dev`). */
  ferretDatabase: string;
  dropOnStop: boolean;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  ferretLogFile?: string;
  /** FerretDB's PostgreSQL pool (default 50); all mongoose pools using the server stay well below it. */
  ferretPoolMaxConns?: number;
}

/**
 * Real infrastructure, no fakes: MONGO_URL / AMQP_URL when given; otherwise a Docker engine (testcontainers)
 * if one answers; otherwise FerretDB embedded (built once) and the local RabbitMQ.
 */
export async function provideInfrastructure(options: InfrastructureOptions): Promise<Infrastructure> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => undefined);
  const stops: (() => Promise<void>)[] = [];
  let mongoUrl = env.MONGO_URL;
  let amqpUrl = env.AMQP_URL;
  let database = 'external';
  let broker = 'external';
  let multiProcessSafe = true;
  let ferretPostgres: Infrastructure['ferretPostgres'] = null;
  let crashDatabase: Infrastructure['crashDatabase'] = null;

  const docker = !mongoUrl || !amqpUrl ? (env.HARNESS_NO_DOCKER ? false : await dockerEngineReachable()) : false;

  if (!amqpUrl) {
    if (await brokerAnswers(DEFAULT_AMQP_URL)) {
      amqpUrl = DEFAULT_AMQP_URL;
      broker = 'local';
    } else if (docker) {
      const { RabbitMQContainer } = await import('@testcontainers/rabbitmq');
      const container = await new RabbitMQContainer('rabbitmq:3.13.7-management').start();
      amqpUrl = container.getAmqpUrl();
      broker = 'testcontainers';
      stops.push(async () => void (await container.stop()));
    } else {
      throw new Error(
        `RabbitMQ is not reachable at ${DEFAULT_AMQP_URL.replace(/:[^:@]+@/, ':***@')}. Start it (e.g. 'rabbitmq-server -detached') or set AMQP_URL.`,
      );
    }
  } else if (!(await brokerAnswers(amqpUrl))) {
    throw new Error('RabbitMQ is not reachable at AMQP_URL. Check the URL or start the broker.');
  }

  if (!mongoUrl) {
    if (docker) {
      const { MongoDBContainer } = await import('@testcontainers/mongodb');
      const container = await new MongoDBContainer('mongo:7.0.14').start();
      mongoUrl = `${container.getConnectionString()}?directConnection=true`;
      database = 'testcontainers';
      stops.push(async () => void (await container.stop()));
    } else {
      const ferret = await startFerretDb({
        postgresDatabase: options.ferretDatabase,
        dropOnStop: options.dropOnStop,
        log,
        logFile: options.ferretLogFile,
        poolMaxConns: options.ferretPoolMaxConns,
      });
      mongoUrl = ferret.url;
      database = `ferretdb-${ferret.backend}`;
      multiProcessSafe = ferret.backend === 'postgresql';
      ferretPostgres = ferret.postgres;
      crashDatabase = (downMs) => ferret.crash(downMs);
      stops.push(() => ferret.stop());
    }
  }

  return {
    mongoUrl,
    amqpUrl: amqpUrl!,
    database,
    broker,
    multiProcessSafe,
    ferretPostgres,
    crashDatabase,
    async stop() {
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
    },
  };
}
