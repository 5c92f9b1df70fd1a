import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './ferretdb';
import { freePort, waitFor } from './ports';

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

export interface ServiceProcess {
  name: ServiceName;
  port: number;
  url: string;
  child: ChildProcess;
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
  logFile?: string;
  /** Also copy the service's output to this stream (npm start prints logs). */
  echo?: NodeJS.WritableStream;
  readyTimeoutMs?: number;
}

/** Runs one service as its own Node.js process (TypeScript through tsx) and waits for /readyz. */
export async function startService(name: ServiceName, port: number, options: StartServiceOptions): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', serviceEntry(name)], {
    cwd: REPO_ROOT,
    env: { ...options.env, [PORT_VARIABLE[name]]: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
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
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      `${name} ready at ${url}/readyz`,
      async () => {
        if (exitCode !== undefined) throw new Error(`${name} exited with code ${exitCode} at start (see ${options.logFile ?? 'its output'})`);
        const response = await fetch(`${url}/readyz`);
        return response.status === 200;
      },
      options.readyTimeoutMs ?? 60_000,
      150,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    name,
    port,
    url,
    child,
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

export interface Stack {
  services: Record<ServiceName, ServiceProcess>;
  env: NodeJS.ProcessEnv;
  gatewayUrl: string;
  callbackUrl: string;
  restart(name: ServiceName): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

export interface StartStackOptions {
  env: NodeJS.ProcessEnv;
  /** Use the design's fixed ports (npm start) instead of free ones (tests). */
  fixedPorts?: boolean;
  logDir?: string;
  echo?: NodeJS.WritableStream;
}

/** Starts the five services as processes wired to each other. */
export async function startStack(options: StartStackOptions): Promise<Stack> {
  const ports = {} as Record<ServiceName, number>;
  for (const name of SERVICE_NAMES) {
    const fromEnv = options.env[PORT_VARIABLE[name]];
    ports[name] = fromEnv ? Number(fromEnv) : options.fixedPorts ? DEFAULT_PORTS[name] : await freePort();
  }
  const url = (name: ServiceName) => `http://127.0.0.1:${ports[name]}`;
  const env: NodeJS.ProcessEnv = {
    ...options.env,
    ORDER_SERVICE_URL: url('order-service'),
    PAYMENT_SERVICE_URL: url('payment-service'),
    AUDIT_SERVICE_URL: url('audit-service'),
  };
  const services = {} as Record<ServiceName, ServiceProcess>;
  const launch = (name: ServiceName) =>
    startService(name, ports[name], { env, echo: options.echo, logFile: options.logDir ? path.join(options.logDir, `${name}.log`) : undefined });
  try {
    for (const name of SERVICE_NAMES) services[name] = await launch(name);
  } catch (error) {
    await Promise.all(Object.values(services).map((service) => service.stop()));
    throw error;
  }
  return {
    services,
    env,
    gatewayUrl: url('api-gateway'),
    callbackUrl: url('callback-gateway'),
    async restart(name) {
      await services[name].stop();
      services[name] = await launch(name);
      return services[name];
    },
    async stop() {
      for (const name of [...SERVICE_NAMES].reverse()) await services[name].stop();
    },
  };
}
