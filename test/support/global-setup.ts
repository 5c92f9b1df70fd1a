import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { buildServices, provideInfrastructure, REPO_ROOT, SERVICE_NAMES, type Infrastructure } from '@pay/harness';

/**
 * One real MongoDB-compatible server and one real broker for the whole jest run. Test files isolate
 * themselves with their own database names and broker prefixes (see ./isolation.ts).
 */
export default async function globalSetup(): Promise<void> {
  const runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
  const logDir = path.join(REPO_ROOT, '.cache', 'test-logs', runId);
  mkdirSync(logDir, { recursive: true });
  // End-to-end tests run the services compiled (dist/services/<name>/main.js): build them once for the
  // run, so no worker builds (PAY_RUN_TS=1 runs them through tsx instead).
  if (process.env.PAY_RUN_TS !== '1') await buildServices(SERVICE_NAMES);
  const infrastructure = await provideInfrastructure({
    ferretDatabase: `pay_test_${runId}`,
    dropOnStop: true,
    log: (line) => console.log(`[harness] ${line}`),
    ferretLogFile: path.join(logDir, 'ferretdb.log'),
    // Two jest workers can run two stacks (2 × 4 services × 5 connections) plus a test's own pool at once:
    // ~50 clients; FerretDB/PostgreSQL wedges when writers exceed its pool, so leave a wide margin
    // (PostgreSQL here allows 100 connections in all).
    ferretPoolMaxConns: 80,
  });
  console.log(`\n[harness] database: ${infrastructure.database}, broker: ${infrastructure.broker}, logs: ${logDir}`);
  process.env.TEST_MONGO_URL = infrastructure.mongoUrl;
  process.env.TEST_AMQP_URL = infrastructure.amqpUrl;
  process.env.TEST_RUN_ID = runId;
  process.env.TEST_MULTI_PROCESS_SAFE = infrastructure.multiProcessSafe ? '1' : '0';
  if (infrastructure.ferretPostgres) process.env.TEST_FERRET_PG_DATABASE = infrastructure.ferretPostgres.database;
  process.env.TEST_LOG_DIR = logDir;
  (globalThis as { __infrastructure?: Infrastructure }).__infrastructure = infrastructure;
}
