import { spawn } from 'node:child_process';
import path from 'node:path';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * Runs a TypeScript worker script as its own Node.js process (a stand-in for a second replica of a
 * service): `input` goes to its standard input as JSON, its standard output is parsed as JSON.
 */
export async function runWorkerProcess<T>(script: string, input: unknown, env: NodeJS.ProcessEnv = {}): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.end(JSON.stringify(input));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`worker ${path.basename(script)} exited with ${code}: ${stderr.slice(-2000)}`);
  const lastLine = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(lastLine) as T;
}

/** Reads the whole of standard input as JSON (the worker's side of runWorkerProcess). */
export async function readWorkerInput<T>(): Promise<T> {
  let text = '';
  for await (const chunk of process.stdin) text += (chunk as Buffer).toString('utf8');
  return JSON.parse(text) as T;
}

/** Sleeps until the wall-clock time `at` (ms), so two worker processes act at the same moment. */
export async function waitUntil(at: number): Promise<void> {
  const delay = at - Date.now();
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
}

/**
 * The whole of a worker's `main`: reads its input, runs, prints the result as the last line of
 * standard output, and exits non-zero with the stack on standard error if it fails.
 */
export function runAsWorker<I, O>(run: (input: I) => Promise<O>): void {
  void readWorkerInput<I>()
    .then(run)
    .then((result) => process.stdout.write(`${JSON.stringify(result)}\n`))
    .catch((error: Error) => {
      console.error(error.stack);
      process.exit(1);
    });
}
