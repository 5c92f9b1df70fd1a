/**
 * `npm run chaos -- --payments N [--replicas R] [--seed S] [--concurrency C] [--faults kill,broker,database]
 * [--rabbitmq-node NAME] [--keep-database]`: runs the stack, drives N payments through the public API and the provider
 * simulator (successes, failures, never-notified, replayed notifications, cancels, refunds, duplicate
 * charges) while it SIGKILLs random service processes and restarts them, restarts RabbitMQ
 * (`rabbitmqctl stop_app` / `start_app`) and the database, then waits for the system to settle and
 * checks what "nothing lost, nothing doubled" means (scripts/chaos/checks.ts). Prints the figures;
 * exits 1 on any violation, printing the seed to repeat it.
 *
 * The broker is restarted only when it is the local default node (no AMQP_URL), or with
 * `--rabbitmq-node NAME`: AMQP_URL is that node (e.g. a private one, so the restarts leave the shared
 * broker alone: `scripts/rabbitmq-node.sh start chaos@localhost 5673`, then
 * `AMQP_URL=amqp://guest:guest@127.0.0.1:5673 npm run chaos -- --rabbitmq-node chaos@localhost`), and
 * the restarts are `rabbitmqctl -n NAME stop_app` / `start_app`.
 *
 * `--keep-database`: the embedded FerretDB's PostgreSQL database (`pay_chaos_<run id>`) is left in place at
 * the end, for looking into a violation (e.g. the audit records around a chain fault); drop it by hand.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import mongoose from 'mongoose';
import { signToken } from '@pay/auth';
import { ApiError, createClient, type ApiClient } from '@pay/client';
import type { Role } from '@pay/contracts';
import { databaseName } from '@pay/db';
import { formatMinorAmount } from '@pay/money';
import { generateDevSecrets, provideInfrastructure, REPO_ROOT, startStack, type ServiceName, type Stack } from '@pay/harness';
import { deleteBrokerTopology, queueNames } from '@pay/messaging';
import { ALL_SERVICE_EVENTS } from '../libs/harness/src/topology';
import { checkAuditComplete, checkNoMoveTwice, checkOutcomes, checkReconciliation, readFinalState, settled, type FinalState, type SeenEvent, type Violation } from './chaos/checks';
import { PaymentDriver, type ChaosActors, type DrivenPayment } from './chaos/driver';
import { BusObserver } from './chaos/observer';
import { planFaults, planPayments, STORIES, type Fault } from './chaos/plan';
import { seededRandom } from './support/random';

const run = promisify(execFile);

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number, got ${process.argv[at + 1]}`);
  return value;
}

const PAYMENTS = option('payments', 300);
const REPLICAS = option('replicas', 2);
const SEED = option('seed', Date.now() % 1_000_000_007);
const CONCURRENCY = option('concurrency', 8);
/** Pause between two faults (each fault also lasts its own down time). */
const FAULT_GAP_MS = option('fault-gap-ms', 2_500);
const SETTLE_TIMEOUT_MS = 240_000;
/** `--faults kill,broker,database` (default all): which kinds to inject. */
const FAULT_KINDS = new Set((process.argv.includes('--faults') ? process.argv[process.argv.indexOf('--faults') + 1] ?? '' : 'kill,broker,database').split(','));
for (const kind of FAULT_KINDS) if (!['kill', 'broker', 'database'].includes(kind)) throw new Error(`--faults: unknown kind ${kind} (kill, broker, database)`);
/** `--rabbitmq-node NAME` (e.g. chaos@localhost): the RabbitMQ node serving AMQP_URL, restarted with `rabbitmqctl -n NAME`. */
const KEEP_DATABASE = process.argv.includes('--keep-database');
const RABBITMQ_NODE = process.argv.includes('--rabbitmq-node') ? (process.argv[process.argv.indexOf('--rabbitmq-node') + 1] ?? '') : null;
if (RABBITMQ_NODE !== null && !/^[A-Za-z0-9_-]+@[A-Za-z0-9.-]+$/.test(RABBITMQ_NODE)) {
  throw new Error(`--rabbitmq-node must be a full node name such as chaos@localhost, got ${RABBITMQ_NODE || 'nothing'}`);
}
if (RABBITMQ_NODE !== null && !process.env.AMQP_URL) {
  throw new Error(`--rabbitmq-node ${RABBITMQ_NODE} needs AMQP_URL set to that node (e.g. AMQP_URL=amqp://guest:guest@127.0.0.1:5673)`);
}
/** How this run names itself, to be repeated. */
const REPEAT = `npm run chaos -- --payments ${PAYMENTS} --replicas ${REPLICAS} --seed ${SEED}${RABBITMQ_NODE ? ` --rabbitmq-node ${RABBITMQ_NODE}` : ''}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries a read while the system is still coming back (it is only read once the faults stopped). */
async function read<T>(call: () => Promise<T>, deadlineMs = 60_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const transient = !(error instanceof ApiError) || error.status >= 500 || error.status === 429;
      if (!transient || Date.now() > deadline) throw error;
      await sleep(500);
    }
  }
}

async function pool<T, R>(items: readonly T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!);
      }
    }),
  );
  return results;
}

/** Injects the planned faults one after another until `done` is set; returns what was done. */
interface FaultReach {
  /**
   * The rabbitmqctl arguments naming the broker to restart (`[]`: the local default node; `-n NAME` with
   * --rabbitmq-node), or null: rabbitmqctl does not reach the broker at AMQP_URL.
   */
  restartBroker: string[] | null;
  /** Only a database this harness started can be killed. */
  crashDatabase: ((downMs: number) => Promise<void>) | null;
}

async function injectFaults(stack: Stack, faults: Fault[], reach: FaultReach, done: () => boolean, log: (line: string) => void) {
  const applied: Record<Fault['kind'], number> = { kill: 0, broker: 0, database: 0 };
  const failures: Violation[] = [];
  for (const fault of faults) {
    await sleep(FAULT_GAP_MS);
    if (done()) break;
    if (!FAULT_KINDS.has(fault.kind)) continue;
    try {
      if (fault.kind === 'kill') {
        const name = fault.service as ServiceName;
        await stack.stopReplica(name, fault.replica, 'SIGKILL');
        await sleep(fault.downMs);
        await restartUntilUp(stack, name, fault.replica);
      } else if (fault.kind === 'broker') {
        if (!reach.restartBroker) continue;
        await run('rabbitmqctl', [...reach.restartBroker, 'stop_app'], { timeout: 60_000 });
        await sleep(fault.downMs);
        await run('rabbitmqctl', [...reach.restartBroker, 'start_app'], { timeout: 60_000 });
      } else {
        if (!reach.crashDatabase) continue;
        await reach.crashDatabase(fault.downMs);
      }
      applied[fault.kind] += 1;
      log(`  fault: ${describeFault(fault)}`);
    } catch (error) {
      failures.push({ check: 'a killed part comes back', detail: `${describeFault(fault)}: ${(error as Error).message}` });
    }
  }
  return { applied, failures };
}

async function restartUntilUp(stack: Stack, name: ServiceName, replica: number): Promise<void> {
  // A restart while the broker or the database is still coming back may time out once: try again.
  for (let attempt = 1; ; attempt++) {
    try {
      await stack.restartReplica(name, replica);
      return;
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

function describeFault(fault: Fault): string {
  if (fault.kind === 'kill') return `SIGKILL ${fault.service}#${fault.replica}, restarted after ${fault.downMs} ms`;
  return `${fault.kind === 'broker' ? 'RabbitMQ stop_app/start_app' : 'database killed and restarted'} (${fault.downMs} ms down)`;
}

async function main(): Promise<void> {
  const started = Date.now();
  const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const log = (line: string) => console.log(line);
  const prefix = `chaos_${runId}`;
  log(`chaos: ${PAYMENTS} payments, ${REPLICAS} replicas, seed ${SEED} (repeat: ${REPEAT})`);
  if (RABBITMQ_NODE) await checkBrokerNode(RABBITMQ_NODE, process.env.AMQP_URL!);
  const random = seededRandom(SEED);
  const plan = planPayments(PAYMENTS, random);

  const infrastructure = await provideInfrastructure({ ferretDatabase: `pay_chaos_${runId}`, dropOnStop: !KEEP_DATABASE, log });
  if (KEEP_DATABASE && infrastructure.ferretPostgres) log(`the database is kept at the end: PostgreSQL ${infrastructure.ferretPostgres.database}`);
  const restartBroker = RABBITMQ_NODE ? ['-n', RABBITMQ_NODE] : infrastructure.broker === 'local' ? [] : null;
  if (RABBITMQ_NODE) log(`the broker is ${infrastructure.broker}, node ${RABBITMQ_NODE}: restarted with rabbitmqctl -n ${RABBITMQ_NODE}`);
  else if (infrastructure.broker !== 'local') log(`the broker is ${infrastructure.broker}: it is not restarted (rabbitmqctl reaches only a local one)`);
  const secrets = generateDevSecrets();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...secrets.env,
    AUDIT_CHAIN_KEY: randomBytes(32).toString('base64url'),
    MONGO_URL: infrastructure.mongoUrl,
    AMQP_URL: infrastructure.amqpUrl,
    BROKER_PREFIX: prefix,
    DB_PREFIX: prefix,
    // CHAOS_LOG_LEVEL=info: the services' whole story of a failing run (logs under .cache/chaos-logs).
    LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
    RATE_LIMIT_PER_USER: '100000',
    RATE_LIMIT_PER_IP: '100000',
    EXPIRY_SWEEP_INTERVAL_MS: '1000',
    ORDER_WAIT_MS: '5000',
    PAYMENT_QUERY_AFTER_S: '2',
    REFUND_QUERY_AFTER_S: '2',
    PROVIDER_QUERY_INTERVAL_MS: '500',
  };
  const observer = new BusObserver(infrastructure.amqpUrl, prefix);
  let stack: Stack | null = null;
  const violations: Violation[] = [];
  try {
    await observer.start();
    stack = await startStack({
      env,
      logDir: path.join(REPO_ROOT, '.cache', 'chaos-logs', runId),
      replicas: REPLICAS,
      multiProcessSafe: infrastructure.multiProcessSafe,
      simulator: { ...secrets.simulatorEnv, PROVIDER_SIM_TIME_SCALE: '0.01' },
    });
    const live = stack;
    log(`stack up (logs in .cache/chaos-logs/${runId}); database ${infrastructure.database}, broker ${infrastructure.broker}`);
    const claims = { audience: env.JWT_AUDIENCE, issuer: env.JWT_ISSUER };
    const clientFor = (sub: string, role: Role): ApiClient =>
      createClient({ baseUrl: `${live.gatewayUrl}/api/v1`, token: signToken({ sub, role }, secrets.session.jwtSecret, '2h', claims) });
    const customers = Array.from({ length: 20 }, (_, i) => clientFor(`chaos-customer-${i}`, 'customer'));
    const admin = clientFor('chaos-admin', 'admin');
    const auditor = clientFor('chaos-auditor', 'auditor');
    const sim = async (method: 'GET' | 'POST', simPath: string, body?: unknown) => {
      const response = await fetch(`${live.providerSimUrl}${simPath}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
    };
    const products = new Map<number, Promise<string>>();
    const driver = new PaymentDriver({
      customer: (index) => customers[index % customers.length]!,
      admin,
      sim,
      callbackUrl: () => live.callbackUrl,
      session: secrets.session,
      runId,
      productFor(priceMinor) {
        let id = products.get(priceMinor);
        if (!id) {
          const productId = `chaos-${priceMinor}`;
          id = read(() => admin.createProduct({ id: productId, name: `Chaos item ${formatMinorAmount(priceMinor)}`, unit_price: formatMinorAmount(priceMinor) }), 120_000)
            .then((product) => product.id)
            .catch((error: unknown) => {
              // Created by a request whose answer was lost to a fault: it is there.
              if (error instanceof ApiError && error.status === 409) return productId;
              throw error;
            });
          products.set(priceMinor, id);
        }
        return id;
      },
    } satisfies ChaosActors);

    // Faults: enough for the whole drive (the injector stops when the payments are driven).
    const services = [...new Set(Object.keys(live.replicas))];
    const faults = planFaults(PAYMENTS, services, (service) => live.replicas[service as ServiceName].length, random);
    let driving = true;
    log(`driving ${PAYMENTS} payments, ${CONCURRENCY} at a time, a fault every ~${FAULT_GAP_MS} ms`);
    const chaos = injectFaults(live, faults, { restartBroker, crashDatabase: infrastructure.crashDatabase }, () => !driving, log);
    const driven: DrivenPayment[] = await pool(plan, CONCURRENCY, (planned) => driver.drive(planned));
    driving = false;
    const { applied, failures } = await chaos;
    violations.push(...failures);
    const drivenAt = Date.now();
    log(`driven in ${Math.round((drivenAt - started) / 1000)} s; faults: ${applied.kill} kills, ${applied.broker} broker restarts, ${applied.database} database restarts; ${driver.retries} retried calls`);

    // Settle: every payment where its story ends, or the deadline.
    let states: FinalState[] = driven.map((d) => ({ driven: d, payment: null, order: null, refunds: [], atProvider: null }));
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    for (;;) {
      states = await pool(states, 8, (state) => (settled(state) ? Promise.resolve(state) : read(() => readFinalState(admin, (p) => sim('GET', p), state.driven))));
      const open = states.filter((state) => !settled(state) && !state.driven.stuckAt).length;
      if (open === 0 || Date.now() > deadline) break;
      await sleep(2_000);
    }
    log(`settled in ${Math.round((Date.now() - drivenAt) / 1000)} s`);
    violations.push(...checkOutcomes(states));

    // The bus and the audit log: every event audited once, no move twice, the chain intact.
    await observer.settle(3_000, 60_000);
    const seen: SeenEvent[] = [...observer.events.entries()].map(([id, event]) => ({ id, type: event.type, data: event.data }));
    violations.push(...checkNoMoveTwice(seen));
    const audited = await auditedIds(infrastructure.mongoUrl, databaseName(prefix, 'audit'), seen.map((event) => event.id));
    violations.push(...checkAuditComplete(seen, audited));
    // The incremental verify: from the latest checkpoint (each stored by a verified walk), against the
    // anchors the order-service keeps. A full walk reads every record (a query per 500) and is left to
    // the audit tests.
    // A compliance view that cannot answer (still 5xx after the read's deadline) is a violation too, and
    // the other checks still run: one slow answer must not hide what the rest would find.
    const unanswered = (check: string) => (error: unknown) => {
      violations.push({ check, detail: `no answer within the read's deadline: ${error instanceof Error ? error.message : String(error)}` });
      return null;
    };
    const verified = await read(() => auditor.verifyAudit()).catch(unanswered('audit chain verifies'));
    if (verified && !verified.ok) violations.push({ check: 'audit chain verifies', detail: JSON.stringify(verified) });
    for (const day of daysBetween(started, Date.now())) {
      const report = (await read(() => auditor.getDailyReport(day)).catch(unanswered(`daily report of ${day} answers`))) as { reconciliation: Record<string, { payment_id: string }[]> } | null;
      if (report) violations.push(...checkReconciliation(day, report.reconciliation));
    }
    violations.push(...(await deadLetters(infrastructure.amqpUrl, prefix)));

    const byStory = Object.fromEntries(STORIES.map((story) => [story, plan.filter((p) => p.story === story).length]));
    const figures = {
      date: new Date().toISOString(),
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.version}; database ${infrastructure.database}, broker ${infrastructure.broker}${RABBITMQ_NODE ? ` (${RABBITMQ_NODE})` : ''}`,
      command: REPEAT,
      payments: PAYMENTS,
      stories: byStory,
      faults: applied,
      retried_calls: driver.retries,
      events_seen: seen.length,
      events_audited: audited.size,
      audit_records_checked: verified?.checked ?? null,
      duration_s: Math.round((Date.now() - started) / 1000),
      violations: violations.length,
    };
    log(JSON.stringify(figures, null, 2));
    mkdirSync(path.join(REPO_ROOT, '.cache', 'chaos'), { recursive: true });
    writeFileSync(path.join(REPO_ROOT, '.cache', 'chaos', `${runId}.json`), JSON.stringify({ ...figures, violation_list: violations }, null, 2));
  } finally {
    await observer.stop();
    await stack?.stop();
    await deleteBrokerTopology(infrastructure.amqpUrl, prefix, ALL_SERVICE_EVENTS).catch(() => undefined);
    await infrastructure.stop();
  }
  if (violations.length > 0) {
    for (const violation of violations) console.error(`VIOLATION ${violation.check}: ${violation.detail}`);
    // What the bus saw of each payment named in a violation, in the order it was seen: where to start looking.
    for (const paymentId of new Set(violations.flatMap((violation) => violation.detail.match(/\b[0-9a-f]{32}\b/g) ?? []))) {
      const trail = [...observer.events.values()].filter((event) => event.data.paymentId === paymentId).map((event) => event.type);
      console.error(`  events of ${paymentId}: ${trail.join(' → ') || 'none seen'}`);
    }
    console.error(`chaos: ${violations.length} violations (seed ${SEED})`);
    process.exitCode = 1;
  } else {
    log('chaos: every check held');
  }
}

/**
 * The node named by --rabbitmq-node must be the one serving AMQP_URL (it listens on the URL's port):
 * restarting any other would inject no fault, or stop a broker others use.
 */
async function checkBrokerNode(node: string, amqpUrl: string): Promise<void> {
  const url = new URL(amqpUrl);
  const port = url.port || (url.protocol === 'amqps:' ? '5671' : '5672');
  let listeners: string;
  try {
    ({ stdout: listeners } = await run('rabbitmq-diagnostics', ['--quiet', '-n', node, 'listeners'], { timeout: 60_000 }));
  } catch (error) {
    const reason = ((error as { stderr?: string }).stderr || (error as Error).message).trim().split('\n')[0]!.replace(/ Please see .*$/, '');
    throw new Error(`--rabbitmq-node ${node}: rabbitmq-diagnostics cannot reach it (start it: scripts/rabbitmq-node.sh start ${node} ${port}): ${reason}`);
  }
  if (!new RegExp(`port: ${port}, protocol: amqp\\b`).test(listeners)) {
    throw new Error(`--rabbitmq-node ${node} does not serve AMQP_URL (port ${port}); its listeners: ${listeners.trim().replace(/\n/g, '; ')}`);
  }
}

/** Which of these event ids have an audit record (records are stored under the event id). */
async function auditedIds(mongoUrl: string, dbName: string, ids: string[]): Promise<Set<string>> {
  const connection = await mongoose.createConnection(mongoUrl, { dbName, maxPoolSize: 4 }).asPromise();
  try {
    const records = connection.collection<{ _id: string }>('audit_records');
    const found = new Set<string>();
    // The audit service may still be working through a backlog: wait while it makes progress, give up
    // after a minute without any, or after ten minutes in all.
    const deadline = Date.now() + 600_000;
    let progressAt = Date.now();
    for (;;) {
      const before = found.size;
      const missing = ids.filter((id) => !found.has(id));
      // By `_id` equality, a few at a time: FerretDB v1 answers an `$in` by reading the whole collection.
      await pool(missing, 8, async (id) => {
        if (await records.findOne({ _id: id }, { projection: { _id: 1 } })) found.add(id);
      });
      if (found.size > before) progressAt = Date.now();
      if (found.size === ids.length || Date.now() > deadline || Date.now() - progressAt > 60_000) return found;
      await sleep(2_000);
    }
  } finally {
    await connection.close();
  }
}

async function deadLetters(amqpUrl: string, prefix: string): Promise<Violation[]> {
  const connection = await amqp.connect(amqpUrl);
  const violations: Violation[] = [];
  try {
    const channel = await connection.createChannel();
    for (const events of ALL_SERVICE_EVENTS) {
      if (events.consumes.length === 0) continue;
      const { main: mainQueue, retries, dead } = queueNames(prefix, events.service);
      // New events still trickle in (the audit's own anchors, queries at the providers): a main queue
      // must empty within a while, not be empty at one instant.
      const drainedBy = Date.now() + 90_000;
      let ready = (await channel.checkQueue(mainQueue)).messageCount;
      while (ready > 0 && Date.now() < drainedBy) {
        await sleep(1_000);
        ready = (await channel.checkQueue(mainQueue)).messageCount;
      }
      if (ready > 0) violations.push({ check: 'consumers caught up', detail: `${mainQueue}: ${ready} messages still waiting after 90 s` });
      for (const queue of retries) {
        const { messageCount: later } = await channel.checkQueue(queue);
        // Waiting for a retry is not a loss (the state checks above say whether anything is missing).
        if (later > 0) console.log(`  ${queue}: ${later} messages waiting for their retry`);
      }
      const { messageCount } = await channel.checkQueue(dead);
      if (messageCount === 0) continue;
      const reasons: string[] = [];
      for (let i = 0; i < Math.min(messageCount, 10); i++) {
        const message = await channel.get(dead, { noAck: false });
        if (!message) break;
        const headers = { ...(message.properties.headers ?? {}) };
        delete headers['x-death'];
        reasons.push(`${message.fields.routingKey}: ${JSON.stringify(headers)}`);
      }
      violations.push({ check: 'dead-letter queues empty', detail: `${dead} holds ${messageCount}: ${reasons.join('; ')}` });
    }
    await channel.close();
  } finally {
    await connection.close();
  }
  return violations;
}

function daysBetween(from: number, to: number): string[] {
  const days = new Set<string>();
  for (let at = from; at <= to + 86_400_000; at += 86_400_000) days.add(new Date(Math.min(at, to)).toISOString().slice(0, 10));
  return [...days];
}

void main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: Error) => {
    console.error(error);
    process.exit(1);
  },
);
