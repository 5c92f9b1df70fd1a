import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { serviceListeningMessage } from '@pay/contracts';
import { declareTopology } from '@pay/messaging';
import { startBalancer, type Balancer } from './balancer';
import { ensureServiceBuilt } from './build';
import { REPO_ROOT } from './ferretdb';
import { GiveUpWaiting, freePort, waitFor } from './ports';
import { ALL_SERVICE_EVENTS } from './topology';
import { PROVIDER_SIM_DEFAULT_PORT, providerSimClientEnv, startProviderSimProcess, type ProviderSimProcess } from './provider-sim';

/** Start order matters: consumers before the producers that feed them, the gateway last. */
export const SERVICE_NAMES = ['audit-service', 'order-service', 'payment-service', 'callback-gateway', 'api-gateway'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Each service's port variable (GATEWAY_PORT and CALLBACK_PORT are fixed by the design). */
export const PORT_VARIABLE: Record<ServiceName, string> = {
  'api-gateway': 'GATEWAY_PORT',
  'callback-gateway': 'CALLBACK_PORT',
  'order-service': 'ORDER_PORT',
  'payment-service': 'PAYMENT_PORT',
  'audit-service': 'AUDIT_PORT',
};

export const DEFAULT_PORTS: Record<ServiceName, number> = {
  'api-gateway': 8080,
  'callback-gateway': 8081,
  'order-service': 8082,
  'payment-service': 8083,
  'audit-service': 8084,
};

/** Each service's default METRICS_PORT (its internal listener: /metrics and the detailed /readyz). */
export const DEFAULT_METRICS_PORTS: Record<ServiceName, number> = {
  'api-gateway': 9080,
  'callback-gateway': 9081,
  'order-service': 9082,
  'payment-service': 9083,
  'audit-service': 9084,
};

export interface ServiceProcess {
  name: ServiceName;
  /** Which replica of the service this is (0: the first). */
  replica: number;
  port: number;
  url: string;
  /** Its internal listener (METRICS_PORT, as bound): `/metrics` and `/readyz` with each dependency's state. */
  metricsUrl: string;
  child: ChildProcess;
  /** Where its output goes, when logged to a file. */
  logFile?: string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  /** Graceful stop (SIGTERM by default). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function serviceEntry(name: ServiceName): string {
  return path.join(REPO_ROOT, 'services', name, 'src', 'main.ts');
}

export interface StartServiceOptions {
  env: NodeJS.ProcessEnv;
  /** Which replica this is (default 0); only recorded on the process handle. */
  replica?: number;
  /** Its METRICS_PORT (default 0: the OS picks one, which the process reports once bound). */
  metricsPort?: number;
  logFile?: string;
  /** Also copy the service's output to this stream (npm start prints logs). */
  echo?: NodeJS.WritableStream;
  readyTimeoutMs?: number;
}

/**
 * How a service process is started: its compiled bundle (dist/services/<name>/main.js, built first when
 * missing or older than its sources; source maps keep stack traces on the .ts lines), or its TypeScript
 * through tsx with PAY_RUN_TS=1 (debugging).
 */
export async function serviceCommand(name: ServiceName): Promise<string[]> {
  if (process.env.PAY_RUN_TS === '1') return ['--import', 'tsx', serviceEntry(name)];
  return ['--enable-source-maps', await ensureServiceBuilt(name)];
}

/** The message of the last error-level JSON log line a process wrote (stdout or stderr), if any. */
function lastErrorLine(child: ChildProcess): { last: () => string | null; stop: () => void } {
  let last: string | null = null;
  const scan = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.includes('"level":"error"')) continue;
      try {
        const entry = JSON.parse(line) as { message?: string; error?: string; issues?: { variable: string; problem: string }[] };
        last = [entry.message, entry.error].filter(Boolean).join(': ') || line;
      } catch {
        last = line.slice(0, 500);
      }
    }
  };
  child.stdout?.on('data', scan);
  child.stderr?.on('data', scan);
  return {
    last: () => last,
    // Only the start needs it: no parsing of a running service's every log line.
    stop: () => {
      child.stdout?.off('data', scan);
      child.stderr?.off('data', scan);
    },
  };
}

/**
 * Runs one service as its own Node.js process (see serviceCommand) and waits until it is ready: /readyz
 * answers 200, /healthz names this service, and the process has reported (over the IPC channel opened
 * here) the ports it bound, its internal one answering /healthz with its name too.
 */
export async function startService(name: ServiceName, port: number, options: StartServiceOptions): Promise<ServiceProcess> {
  // SERVICE_NODE_FLAGS: extra Node.js flags for the services (e.g. `--cpu-prof --cpu-prof-dir=…`, which
  // NODE_OPTIONS does not accept).
  const flags = (options.env.SERVICE_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...flags, ...(await serviceCommand(name))], {
    cwd: REPO_ROOT,
    env: { ...options.env, [PORT_VARIABLE[name]]: String(port), METRICS_PORT: String(options.metricsPort ?? 0) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let metricsPort: number | undefined;
  child.on('message', (message: unknown) => {
    const listening = serviceListeningMessage.safeParse(message);
    if (listening.success && listening.data.service === name && listening.data.port === port) metricsPort = listening.data.metrics_port;
  });
  if (options.logFile) {
    mkdirSync(path.dirname(options.logFile), { recursive: true });
    const out = createWriteStream(options.logFile, { flags: 'a' });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  }
  if (options.echo) {
    child.stdout?.pipe(options.echo, { end: false });
    child.stderr?.pipe(options.echo, { end: false });
  }
  if (!options.logFile && !options.echo) {
    child.stdout?.resume();
    child.stderr?.resume();
  }
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  // The service's own words when it gives up at start (e.g. which variable is wrong), for the caller to show.
  const lastError = lastErrorLine(child);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      `${name} ready at ${url}/readyz`,
      async () => {
        if (exitCode !== undefined) {
          const said = lastError.last();
          throw new GiveUpWaiting(`${name} exited with code ${exitCode} at start${said ? `: ${said}` : ''} (see ${options.logFile ?? 'its output'})`);
        }
        const response = await fetch(`${url}/readyz`);
        if (response.status !== 200) return false;
        // Ready, and it is this service answering (not another process that took the port first).
        const health = (await (await fetch(`${url}/healthz`)).json()) as { service?: string };
        if (health.service !== name) throw new GiveUpWaiting(`${url} is answered by ${health.service ?? 'another process'}, not ${name}: the port was taken`);
        // Reported right after both listeners are bound: a moment after /readyz may already answer.
        if (metricsPort === undefined) return false;
        const internal = (await (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).json()) as { service?: string };
        if (internal.service !== name) throw new GiveUpWaiting(`${name}'s metrics port ${metricsPort} is answered by ${internal.service ?? 'another process'}`);
        return exitCode === undefined;
      },
      options.readyTimeoutMs ?? 60_000,
      150,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    lastError.stop();
  }
  // The channel was only for the report: closed, it holds neither process open.
  if (child.connected) child.disconnect();
  return {
    name,
    replica: options.replica ?? 0,
    port,
    url,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    child,
    logFile: options.logFile,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exitCode !== undefined) return exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** The services that run `replicas` processes; the api-gateway runs once and balances over them. */
export const REPLICATED_SERVICES: readonly ServiceName[] = ['audit-service', 'order-service', 'payment-service', 'callback-gateway'];
/** The services with a database of their own (all but the api-gateway). */
const DATABASE_SERVICES: readonly ServiceName[] = ['audit-service', 'order-service', 'payment-service', 'callback-gateway'];
export const MAX_REPLICAS = 4;
/** Where the api-gateway finds each internal service (a comma-separated list of replica base URLs). */
const UPSTREAM_VARIABLE: Partial<Record<ServiceName, string>> = {
  'order-service': 'ORDER_SERVICE_URL',
  'payment-service': 'PAYMENT_SERVICE_URL',
  'audit-service': 'AUDIT_SERVICE_URL',
};
/**
 * With fixed ports (npm start, or a port variable set), replica r of a service listens on its port +
 * r × REPLICA_PORT_STEP (order-service: 8082, 8182, 8282, ...); behind the callback balancer, which takes
 * CALLBACK_PORT itself, the callback-gateway replicas take 8181, 8281, ...
 */
export const REPLICA_PORT_STEP = 100;

/**
 * Database pool budget: the embedded FerretDB wedges for good when more clients write at once than its
 * PostgreSQL pool has connections (design.md, Infrastructure). Rule: the mongoose pools of ONE stack sum
 * to at most STACK_POOL_BUDGET connections, so each of its processes with a database (4 services ×
 * replicas) gets floor(STACK_POOL_BUDGET / (4 × replicas)) as its MONGO_MAX_POOL_SIZE: 5 with one replica
 * (the services' own default), 2 with two, 1 with three or four (16 in all). An explicitly set
 * MONGO_MAX_POOL_SIZE wins, and then whoever set it owns the budget. The tests' FerretDB has 80
 * connections (test/support/global-setup.ts): two jest workers' stacks (≤ 2 × 20) plus the tests' own
 * pools stay well under it, as does `npm start` (one stack) under FerretDB's default 50.
 */
export const STACK_POOL_BUDGET = 20;

export function poolSizePerReplica(replicas: number): number {
  return Math.max(1, Math.floor(STACK_POOL_BUDGET / (DATABASE_SERVICES.length * replicas)));
}

/** Validates a replica count (STACK_REPLICAS or an option): an integer from 1 to MAX_REPLICAS. */
export function replicaCount(value: number | string | undefined, source = 'STACK_REPLICAS'): number {
  if (value === undefined || value === '') return 1;
  const count = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(count) || count < 1 || count > MAX_REPLICAS) {
    throw new Error(`${source} must be a whole number from 1 to ${MAX_REPLICAS} (processes per service), got ${JSON.stringify(value)}`);
  }
  return count;
}

export interface Stack {
  /** The first replica of each service (the only one with replicas = 1). */
  services: Record<ServiceName, ServiceProcess>;
  /** Every replica of each service, by index; the api-gateway has one. */
  replicas: Record<ServiceName, ServiceProcess[]>;
  /** Processes per replicated service. */
  replicaCount: number;
  env: NodeJS.ProcessEnv;
  gatewayUrl: string;
  /** The callback gateway's public URL: the balancer in front of its replicas when there are several. */
  callbackUrl: string;
  /** The round-robin proxy in front of the callback-gateway replicas (null with one replica). */
  callbackBalancer: Balancer | null;
  /** The provider simulator the services' provider clients point at (null when not started). */
  providerSimUrl: string | null;
  /** A replica's internal listener (default the first): `/metrics` and `/readyz` with each dependency's state. */
  metricsUrl(name: ServiceName, replica?: number): string;
  /**
   * Restarts every replica of a service (stopping those still running); returns the first. `extraEnv`
   * (e.g. FAULT_POINT) is added to the stack's environment for this start only.
   */
  restart(name: ServiceName, extraEnv?: NodeJS.ProcessEnv): Promise<ServiceProcess>;
  /** Stops one replica (SIGKILL by default: a crash) while the others keep serving. */
  stopReplica(name: ServiceName, index: number, signal?: NodeJS.Signals): Promise<number | null>;
  /** Restarts one replica on its port (stopping it first if it still runs), with `extraEnv` for this start only. */
  restartReplica(name: ServiceName, index: number, extraEnv?: NodeJS.ProcessEnv): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

export interface StartStackOptions {
  env: NodeJS.ProcessEnv;
  /** Use the design's fixed ports (npm start) instead of free ones (tests). */
  fixedPorts?: boolean;
  logDir?: string;
  echo?: NodeJS.WritableStream;
  /**
   * Processes per internal service and callback gateway (1..4; default env.STACK_REPLICAS, else 1).
   * The api-gateway runs once and balances over them.
   */
  replicas?: number;
  /**
   * Whether the database guards one document against writers in several processes
   * (Infrastructure.multiProcessSafe). False refuses replicas > 1; undefined means "not known to be
   * unsafe" (a MONGO_URL given from outside).
   */
  multiProcessSafe?: boolean;
  /**
   * Start the provider simulator with this environment (its keys: generateDevSecrets().simulatorEnv) and
   * point the services' provider clients at it; its notifications go to the callback gateway.
   */
  simulator?: NodeJS.ProcessEnv;
}

/** Provider URLs an explicitly set variable keeps (e.g. a tester pointing one provider at its sandbox). */
const SIMULATED_PROVIDER_OVERRIDES = ['WECHATPAY_API_BASE_URL', 'WECHATPAY_NOTIFY_URL', 'ALIPAY_GATEWAY_URL', 'ALIPAY_NOTIFY_URL', 'MOCK_PROVIDER_URL'];

function pick(env: NodeJS.ProcessEnv, names: readonly string[]): NodeJS.ProcessEnv {
  return Object.fromEntries(names.filter((name) => env[name]).map((name) => [name, env[name]]));
}

/** Starts the five services as processes wired to each other, `replicas` of each but the api-gateway. */
export async function startStack(options: StartStackOptions): Promise<Stack> {
  if (options.env.AMQP_URL) await declareTopology(options.env.AMQP_URL, options.env.BROKER_PREFIX ?? 'payments', ALL_SERVICE_EVENTS);
  const replicas = options.replicas !== undefined ? replicaCount(options.replicas, 'replicas') : replicaCount(options.env.STACK_REPLICAS);
  if (replicas > 1 && options.multiProcessSafe === false) {
    throw new Error(
      `refusing to run ${replicas} replicas per service: the database is not safe for several processes ` +
        '(the embedded FerretDB on SQLite has no write guard, so two replicas updating one document could both ' +
        '"win" a conditional update and apply a payment twice). Use STACK_REPLICAS=1, or FerretDB on PostgreSQL, or a MongoDB (MONGO_URL).',
    );
  }
  const countOf = (name: ServiceName) => (REPLICATED_SERVICES.includes(name) ? replicas : 1);
  const balanced = countOf('callback-gateway') > 1;

  // Ports: replica 0 on the service's port; a balanced callback gateway's port belongs to the balancer.
  const ports = {} as Record<ServiceName, number[]>;
  let callbackPublicPort = 0;
  for (const name of SERVICE_NAMES) {
    const fromEnv = options.env[PORT_VARIABLE[name]];
    const base = fromEnv ? Number(fromEnv) : options.fixedPorts ? DEFAULT_PORTS[name] : null;
    const offset = name === 'callback-gateway' && balanced ? 1 : 0;
    if (offset) callbackPublicPort = base ?? (await freePort());
    ports[name] = [];
    for (let r = 0; r < countOf(name); r += 1) ports[name].push(base !== null ? base + (r + offset) * REPLICA_PORT_STEP : await freePort());
  }
  const urlOf = (port: number) => `http://127.0.0.1:${port}`;
  const callbackUrl = urlOf(balanced ? callbackPublicPort : ports['callback-gateway'][0]!);

  const env: NodeJS.ProcessEnv = { ...options.env, STACK_REPLICAS: String(replicas) };
  let providerSim: ProviderSimProcess | null = null;
  if (options.simulator) {
    const fromEnv = options.simulator.PROVIDER_SIM_PORT ?? options.env.PROVIDER_SIM_PORT;
    const simPort = fromEnv ? Number(fromEnv) : options.fixedPorts ? PROVIDER_SIM_DEFAULT_PORT : await freePort();
    providerSim = await startProviderSimProcess(
      simPort,
      { PATH: process.env.PATH, HOME: process.env.HOME, ...options.simulator, PROVIDER_SIM_CALLBACK_URL: callbackUrl },
      { logFile: options.logDir ? path.join(options.logDir, 'provider-sim.log') : undefined, echo: options.echo },
    );
    Object.assign(env, providerSimClientEnv(providerSim.url, callbackUrl), { ...pick(options.env, SIMULATED_PROVIDER_OVERRIDES) });
  }
  for (const [name, variable] of Object.entries(UPSTREAM_VARIABLE)) env[variable] = ports[name as ServiceName].map(urlOf).join(',');
  if (!env.MONGO_MAX_POOL_SIZE) env.MONGO_MAX_POOL_SIZE = String(poolSizePerReplica(replicas)); // see STACK_POOL_BUDGET
  /** What one service's processes get on top of the stack's environment. */
  const envOf = (name: ServiceName): NodeJS.ProcessEnv => {
    if (name !== 'callback-gateway' || !balanced) return env;
    // Behind the balancer the callback gateway sees one more proxy: its client address is the one the
    // balancer appends to X-Forwarded-For (per-address refusal limits stay per provider address).
    const hops = Number(env.TRUST_PROXY_HOPS ?? '0');
    return Number.isInteger(hops) ? { ...env, TRUST_PROXY_HOPS: String(hops + 1) } : env;
  };

  const services = {} as Record<ServiceName, ServiceProcess>;
  const replicaSets = {} as Record<ServiceName, ServiceProcess[]>;
  for (const name of SERVICE_NAMES) replicaSets[name] = [];
  let callbackBalancer: Balancer | null = null;

  const logFileOf = (name: ServiceName, index: number) =>
    options.logDir ? path.join(options.logDir, index === 0 ? `${name}.log` : `${name}-${index + 1}.log`) : undefined;
  // Fixed ports: the services' METRICS_PORT defaults, + REPLICA_PORT_STEP per replica; else one from freePort.
  // Not 0: a port the OS picks for one service's metrics could be one freePort handed to another service
  // that has not bound it yet (seen: the callback gateway's port answered by the audit-service).
  const metricsPortOf = async (name: ServiceName, index: number) => (options.fixedPorts ? DEFAULT_METRICS_PORTS[name] + index * REPLICA_PORT_STEP : freePort());
  /** `extraEnv` (e.g. a test's FAULT_POINT) applies to this start only: a later restart without it drops it. */
  const launch = async (name: ServiceName, index: number, extraEnv: NodeJS.ProcessEnv = {}) => {
    const started = await startService(name, ports[name][index]!, {
      env: { ...envOf(name), ...extraEnv },
      replica: index,
      metricsPort: await metricsPortOf(name, index),
      echo: options.echo,
      logFile: logFileOf(name, index),
    });
    replicaSets[name][index] = started;
    if (index === 0) services[name] = started;
    return started;
  };
  /** The first replica alone (it creates indexes and queues on a fresh database), then the others at once. */
  const launchAll = async (name: ServiceName, extraEnv?: NodeJS.ProcessEnv) => {
    await launch(name, 0, extraEnv);
    const rest = await Promise.allSettled(ports[name].slice(1).map((_, i) => launch(name, i + 1, extraEnv)));
    const failed = rest.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  };
  const stopAll = async (name: ServiceName, signal?: NodeJS.Signals) => {
    await Promise.all(replicaSets[name].filter(Boolean).map((replica) => replica.stop(signal)));
  };
  const replicaAt = (name: ServiceName, index: number) => {
    const replica = replicaSets[name][index];
    if (!replica) throw new Error(`${name} has no replica ${index} (it runs ${replicaSets[name].length})`);
    return replica;
  };

  try {
    for (const name of SERVICE_NAMES) {
      await launchAll(name);
      if (name === 'callback-gateway' && balanced) {
        callbackBalancer = await startBalancer({ upstreams: replicaSets[name].map((replica) => replica.url), port: callbackPublicPort });
      }
    }
  } catch (error) {
    await Promise.all(SERVICE_NAMES.map((name) => stopAll(name)));
    await callbackBalancer?.close();
    await providerSim?.stop();
    throw error;
  }
  return {
    services,
    replicas: replicaSets,
    replicaCount: replicas,
    env,
    gatewayUrl: services['api-gateway'].url,
    callbackUrl: callbackBalancer ? callbackBalancer.url : services['callback-gateway'].url,
    callbackBalancer,
    providerSimUrl: providerSim?.url ?? null,
    metricsUrl: (name, index = 0) => replicaAt(name, index).metricsUrl,
    async restart(name, extraEnv) {
      await stopAll(name);
      await launchAll(name, extraEnv);
      return services[name];
    },
    async stopReplica(name, index, signal = 'SIGKILL') {
      return replicaAt(name, index).stop(signal);
    },
    async restartReplica(name, index, extraEnv) {
      await replicaAt(name, index).stop();
      return launch(name, index, extraEnv);
    },
    async stop() {
      for (const name of [...SERVICE_NAMES].reverse()) {
        await stopAll(name);
        if (name === 'callback-gateway') await callbackBalancer?.close();
      }
      await providerSim?.stop();
    },
  };
}
