import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './ferretdb';
import { GiveUpWaiting, waitFor } from './ports';

/** The provider simulator's default port (PROVIDER_SIM_PORT). */
export const PROVIDER_SIM_DEFAULT_PORT = 8090;

export interface ProviderSimProcess {
  url: string;
  stop(): Promise<void>;
}

/**
 * Runs the provider simulator (tools/provider-sim) as its own process, as `npm run provider-sim` does,
 * and waits until it answers HTTP. It is a development tool: it runs from its TypeScript through tsx.
 */
export async function startProviderSimProcess(port: number, env: NodeJS.ProcessEnv, options: { logFile?: string; echo?: NodeJS.WritableStream } = {}): Promise<ProviderSimProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'tools', 'provider-sim', 'src', 'main.ts')], {
    cwd: REPO_ROOT,
    env: { ...env, PROVIDER_SIM_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (options.logFile) {
    mkdirSync(path.dirname(options.logFile), { recursive: true });
    const out = createWriteStream(options.logFile, { flags: 'a' });
    child.stdout.pipe(out);
    child.stderr.pipe(out);
  } else if (options.echo) {
    child.stdout.pipe(options.echo, { end: false });
    child.stderr.pipe(options.echo, { end: false });
  } else {
    child.stdout.resume();
    child.stderr.resume();
  }
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      `provider simulator at ${url}`,
      async () => {
        if (exitCode !== undefined) throw new GiveUpWaiting(`the provider simulator exited with code ${exitCode} at start (see ${options.logFile ?? 'its output'})`);
        // Any HTTP answer means it is listening.
        return (await fetch(`${url}/healthz`)).status > 0;
      },
      30_000,
      150,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    url,
    async stop() {
      if (exitCode !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** What the services need to reach the simulator as their providers, and to be notified through `callbackUrl`. */
export function providerSimClientEnv(simUrl: string, callbackUrl: string): NodeJS.ProcessEnv {
  return {
    WECHATPAY_API_BASE_URL: simUrl,
    WECHATPAY_NOTIFY_URL: `${callbackUrl}/callbacks/wechatpay`,
    ALIPAY_GATEWAY_URL: `${simUrl}/gateway.do`,
    ALIPAY_NOTIFY_URL: `${callbackUrl}/callbacks/alipay`,
    MOCK_PROVIDER_URL: simUrl,
  };
}
