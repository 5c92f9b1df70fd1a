/**
 * `npm run bench [-- --short]`: the machine's limits and the product's figures in one run, each figure
 * as a ratio to its limit, every database figure with its collection size. Benchmarks are never
 * asserted in tests. The full run writes docs/benchmarks.md and docs/benchmarks.png; `--short` (CI) runs
 * tiny sizes only to prove the command works and writes its report under .cache/bench/.
 *
 *   limits:  broker publish (confirms) and consume (acks); raw database insert and conditional update
 *   product: whole flows through the stack at rising load (order → payment → start → signed callback →
 *            order.paid seen on the broker); memory; audit drain and verify; the callback gateway alone;
 *            the same flows again with a large history stored
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import amqp from 'amqplib';
import { signToken } from '@pay/auth';
import { createClient } from '@pay/client';
import { generateDevSecrets, provideInfrastructure, REPO_ROOT, startStack, type Stack } from '@pay/harness';
import { deleteBrokerTopology, queueNames } from '@pay/messaging';
import { ALL_SERVICE_EVENTS } from '../libs/harness/src/topology';
import { measureAudit } from './bench/audit';
import { measureCallbacks } from './bench/callbacks';
import { renderChartPng } from './bench/chart';
import { PaidWatcher, runFlows, type FlowFigures } from './bench/flows';
import { measureBroker, measureDatabase, type DatabaseLimits } from './bench/limits';
import { round, timed } from './bench/measure';
import { summarise } from './bench/profile-summary';
import { orderAndPayBurst } from './bench/order-burst';
import { countCommands, roundTripsPerFlow } from './bench/round-trips';
import { storeHistory } from './bench/scale';

const SHORT = process.argv.includes('--short');
const SETTINGS = SHORT
  ? { brokerMessages: 500, dbOperations: 100, levels: [[1, 4], [4, 12]], callbacks: 40, history: 2_000, verifyRounds: 1, auditBurst: 200, burstCustomers: 20 }
  : {
      brokerMessages: 5_000,
      dbOperations: 500,
      levels: [[1, 40], [2, 60], [4, 120], [8, 200], [16, 320], [32, 400]],
      callbacks: 600,
      history: Number(process.env.BENCH_HISTORY ?? 100_000),
      verifyRounds: 3,
      auditBurst: 5_000,
      burstCustomers: 100,
    };
/** Database work of one flow: inserts (order, payment, inbox claims, audit records...) and conditional updates. */
const FLOW_INSERTS = 9;
const FLOW_UPDATES = 3;

const flowsAtLimit = (db: DatabaseLimits) => 1 / (FLOW_INSERTS / db.insertPerSecond + FLOW_UPDATES / db.conditionalUpdatePerSecond);

function rssMegabytes(stack: Stack): Record<string, number> {
  const out: Record<string, number> = {};
  for (const replicas of Object.values(stack.replicas)) {
    for (const service of replicas) {
      const kb = Number(execFileSync('ps', ['-o', 'rss=', '-p', String(service.child.pid)]).toString().trim() || 0);
      out[replicas.length > 1 ? `${service.name}#${service.replica}` : service.name] = round(kb / 1024, 0);
    }
  }
  return out;
}

async function auditBacklog(amqpUrl: string, prefix: string): Promise<number> {
  const connection = await amqp.connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    const names = queueNames(prefix, 'audit-service');
    let waiting = 0;
    for (const queue of [names.main, ...names.retries]) waiting += (await channel.checkQueue(queue)).messageCount;
    return waiting;
  } finally {
    await connection.close();
  }
}

async function main(): Promise<void> {
  const runId = Date.now().toString(36);
  const log = (line: string) => console.log(line);
  const infrastructure = await provideInfrastructure({ ferretDatabase: `pay_bench_${runId}`, dropOnStop: true, log });
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${round(os.totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}; database ${infrastructure.database}, broker ${infrastructure.broker}`;
  log(`bench ${SHORT ? '(short)' : ''} on ${machine}`);
  const lines: string[] = [];
  const say = (line: string) => {
    lines.push(line);
    log(line);
  };
  const prefix = `bench_${runId}`;
  const secrets = generateDevSecrets();
  let stack: Stack | null = null;
  const watcher = new PaidWatcher();
  try {
    say('## Limits of this machine');
    const broker = await measureBroker(infrastructure.amqpUrl, `${prefix}_broker`, SETTINGS.brokerMessages);
    say(`- broker: ${round(broker.publishPerSecond, 0)} persistent messages/s published with confirms, ${round(broker.consumePerSecond, 0)}/s consumed with acks`);
    const db1k = await measureDatabase(infrastructure.mongoUrl, `${prefix}_raw1k`, 1_000, SETTINGS.dbOperations);
    say(`- database at ${db1k.collectionSize} documents: ${round(db1k.insertPerSecond, 0)} inserts/s, ${round(db1k.conditionalUpdatePerSecond, 0)} conditional updates/s → ${round(flowsAtLimit(db1k))} flows/s if a flow cost only its ${FLOW_INSERTS} inserts + ${FLOW_UPDATES} conditional updates`);

    const env: NodeJS.ProcessEnv = {
      ...process.env, ...secrets.env, MONGO_URL: infrastructure.mongoUrl, AMQP_URL: infrastructure.amqpUrl, BROKER_PREFIX: `${prefix}_stack`, DB_PREFIX: prefix,
      LOG_LEVEL: 'warn', RATE_LIMIT_PER_USER: '100000', RATE_LIMIT_PER_IP: '100000', STACK_REPLICAS: '1',
    };
    // BENCH_CPU_PROF=1: every service writes a V8 CPU profile when it stops; summarised at the end.
    const profileDir = process.env.BENCH_CPU_PROF ? path.join(REPO_ROOT, '.cache', 'bench-profiles', runId) : null;
    if (profileDir) env.SERVICE_NODE_FLAGS = `--cpu-prof --cpu-prof-dir=${profileDir}`;
    stack = await startStack({
      env,
      logDir: path.join(REPO_ROOT, '.cache', 'bench-logs', runId),
      multiProcessSafe: infrastructure.multiProcessSafe,
      simulator: secrets.simulatorEnv,
    });
    await watcher.start(infrastructure.amqpUrl, `${prefix}_stack`);
    await runFlows(stack, secrets, watcher, 2, 6, 'warmup');
    const commandsBefore = await countCommands(stack);

    say('');
    say(`## Whole flows through the stack (order → payment → start → signed callback → order.paid on the broker), ~1k documents stored`);
    const figures: FlowFigures[] = [];
    for (const [customers, flows] of SETTINGS.levels) {
      const result = await runFlows(stack, secrets, watcher, customers!, flows!, `c${customers}`);
      figures.push(result);
      say(
        `- ${customers} customers: ${round(result.flowsPerSecond, 2)} flows/s (${round(result.flowsPerSecond / flowsAtLimit(db1k), 2)} of the database limit); ` +
          `callback → order.paid p50 ${round(result.paidLatencyMs.p50, 0)} ms, p99 ${round(result.paidLatencyMs.p99, 0)} ms; whole flow p50 ${round(result.flowLatencyMs.p50, 0)} ms`,
      );
    }
    const best = figures.reduce((a, b) => (b.flowsPerSecond > a.flowsPerSecond ? b : a));
    const half = figures.reduce((a, b) => (Math.abs(b.flowsPerSecond - best.flowsPerSecond / 2) < Math.abs(a.flowsPerSecond - best.flowsPerSecond / 2) ? b : a));
    const memory = rssMegabytes(stack);
    const loadEnded = performance.now();
    let backlog = await auditBacklog(infrastructure.amqpUrl, `${prefix}_stack`);
    const backlogAtEnd = backlog;
    while (backlog > 0 && performance.now() - loadEnded < 120_000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      backlog = await auditBacklog(infrastructure.amqpUrl, `${prefix}_stack`);
    }
    const drainSeconds = (performance.now() - loadEnded) / 1000;
    // Every command the services sent while the levels ran and the audit caught up (background jobs too).
    const roundTrips = roundTripsPerFlow(commandsBefore, await countCommands(stack), figures.reduce((sum, level) => sum + level.flows, 0));
    const auditor = createClient({ baseUrl: `${stack.gatewayUrl}/api/v1`, token: signToken({ sub: 'bench-auditor', role: 'auditor' }, secrets.session.jwtSecret, '2h') });
    let verifyMs = Infinity;
    let verified = 0;
    for (let round_ = 0; round_ < SETTINGS.verifyRounds; round_++) {
      const [result, ms] = await timed(() => auditor.verifyAudit());
      verifyMs = Math.min(verifyMs, ms);
      verified = result.checked;
    }
    const audit = await measureAudit(infrastructure.amqpUrl, infrastructure.mongoUrl, `${prefix}_stack`, prefix, SETTINGS.auditBurst);
    const callbacks = await measureCallbacks(secrets, {
      amqpUrl: infrastructure.amqpUrl,
      mongoUrl: infrastructure.mongoUrl,
      env: stack.env,
      prefix: `${prefix}_cb`,
      logDir: path.join(REPO_ROOT, '.cache', 'bench-logs', runId),
      count: SETTINGS.callbacks,
      concurrency: 16,
    });

    say('');
    say('## Against the targets');
    say(`- P1 throughput: best ${round(best.flowsPerSecond, 2)} flows/s at ${best.customers} customers = ${round(best.flowsPerSecond / flowsAtLimit(db1k), 2)} × the database limit (target ≥ 0.5)`);
    say(`- latency, 1 customer: callback → order.paid p50 ${round(figures[0]!.paidLatencyMs.p50, 0)} ms (target ≤ 100 ms)`);
    say(`- latency at about half the best throughput (${half.customers} customers, ${round(half.flowsPerSecond, 2)} flows/s): p99/p50 = ${round(half.paidLatencyMs.p99 / half.paidLatencyMs.p50, 2)} (target ≤ 5)`);
    say(`- memory after the highest load: ${Object.entries(memory).map(([name, mb]) => `${name} ${mb} MB`).join(', ')} (target ≤ 150 MB each)`);
    say(`- audit: ${backlogAtEnd} events queued when the load stopped, drained in ${round(drainSeconds, 1)} s (target ≤ 5 s); GET /audit/verify over ${verified} records in ${round(verifyMs, 0)} ms`);
    say(`- database round trips per flow (every command the services sent during the levels above and the audit's catch-up, divided by the flows): ${roundTrips.total.toFixed(1)}`);
    for (const line of roundTrips.perService) say(`  - ${line}`);
    say(
      `- audit alone: a burst of ${audit.events} events published at ${round(audit.publishedPerSecond, 0)}/s (confirmed) recorded and folded in ${round(audit.seconds, 1)} s = ` +
        `${round(audit.recordedPerSecond, 0)} events/s (${round(audit.recordedPerSecond / db1k.insertPerSecond, 2)} × the database's single inserts/s; the flows above produce ~8 events each)`,
    );
    say(`- callback gateway alone: ${round(callbacks.gatewayPerSecond, 0)} verified callbacks/s vs a bare verify + confirmed publish loop ${round(callbacks.bareLoopPerSecond, 0)}/s = ${round(callbacks.gatewayPerSecond / callbacks.bareLoopPerSecond, 2)} (target ≥ 0.7)`);

    say('');
    say(`## With ${SETTINGS.history} orders and payments already stored`);
    const [, storeMs] = await timed(() => storeHistory(infrastructure.mongoUrl, prefix, SETTINGS.history));
    log(`  (stored in ${round(storeMs / 1000, 0)} s)`);
    const dbLarge = await measureDatabase(infrastructure.mongoUrl, `${prefix}_rawlarge`, SETTINGS.history, SETTINGS.dbOperations);
    say(`- database at ${dbLarge.collectionSize} documents: ${round(dbLarge.insertPerSecond, 0)} inserts/s, ${round(dbLarge.conditionalUpdatePerSecond, 0)} conditional updates/s → ${round(flowsAtLimit(dbLarge))} flows/s limit`);
    const atScale = await runFlows(stack, secrets, watcher, best.customers, best.flows, 'scale');
    say(
      `- ${best.customers} customers: ${round(atScale.flowsPerSecond, 2)} flows/s = ${round(atScale.flowsPerSecond / best.flowsPerSecond, 2)} × the rate with ~1k stored (target ≥ 0.7); ` +
        `callback → order.paid p50 ${round(atScale.paidLatencyMs.p50, 0)} ms, p99 ${round(atScale.paidLatencyMs.p99, 0)} ms`,
    );
    const burst = await orderAndPayBurst(stack, secrets, SETTINGS.burstCustomers, 'burst');
    say(
      `- no false 404: ${burst.customers} customers each create an order and pay it at once: POST /payments ${burst.createdFirstTime} × 201, ` +
        `${burst.createdAfterRetry} × 503 + Retry-After then 201, ${burst.falseNotFound} × 404${burst.other.length > 0 ? `, other: ${burst.other.join('; ')}` : ''} (target: no 404, nothing else)`,
    );

    if (profileDir) {
      const pids = new Map(Object.values(stack.replicas).flat().map((service) => [String(service.child.pid), service.name]));
      await stack.stop();
      stack = null;
      say('');
      say('## Where the CPU time went (V8 profiles of every service over the whole run)');
      for (const file of readdirSync(profileDir).filter((name) => name.endsWith('.cpuprofile'))) {
        const pid = /\.(\d+)\.\d+\.\d+\.cpuprofile$/.exec(file)?.[1] ?? '';
        say('```');
        say(`${pids.get(pid) ?? 'unknown'} — ${summarise(path.join(profileDir, file))}`);
        say('```');
      }
    }

    const outDir = SHORT ? path.join(REPO_ROOT, '.cache', 'bench') : path.join(REPO_ROOT, 'docs');
    mkdirSync(outDir, { recursive: true });
    const png = renderChartPng([
      {
        title: 'Throughput against load',
        xLabel: 'concurrent customers',
        yLabel: 'flows/s',
        series: [
          { name: 'whole flows/s (~1k stored)', color: '#1f77b4', points: figures.map((f) => ({ x: f.customers, y: f.flowsPerSecond })) },
          { name: 'database limit (flows/s)', color: '#999999', points: figures.map((f) => ({ x: f.customers, y: flowsAtLimit(db1k) })) },
        ],
      },
      {
        title: 'Callback → order.paid latency',
        xLabel: 'concurrent customers',
        yLabel: 'ms',
        series: [
          { name: 'p50', color: '#2ca02c', points: figures.map((f) => ({ x: f.customers, y: f.paidLatencyMs.p50 })) },
          { name: 'p99', color: '#d62728', points: figures.map((f) => ({ x: f.customers, y: f.paidLatencyMs.p99 })) },
        ],
      },
    ]);
    writeFileSync(path.join(outDir, 'benchmarks.png'), png);
    const header = `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench${SHORT ? ' -- --short' : ''}\` on ${machine}.`;
    writeFileSync(path.join(outDir, SHORT ? 'benchmarks.md' : 'benchmarks-figures.md'), `${header}\n\n${lines.join('\n')}\n\n![throughput and latency against load](benchmarks.png)\n`);
    log(`\nwritten: ${path.join(outDir, SHORT ? 'benchmarks.md' : 'benchmarks-figures.md')} and benchmarks.png`);
  } finally {
    await watcher.stop();
    await stack?.stop();
    await deleteBrokerTopology(infrastructure.amqpUrl, `${prefix}_stack`, ALL_SERVICE_EVENTS).catch(() => undefined);
    await infrastructure.stop();
  }
}

void main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(error);
    process.exit(1);
  },
);
