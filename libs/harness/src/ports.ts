import net from 'node:net';

/**
 * Where the harness takes ports from: below Linux's ephemeral range (32768 and up), where the OS never
 * picks one by itself (for a listener on port 0 or for an outgoing connection), cut into one slice per
 * jest worker (JEST_WORKER_ID; slice 0 for any other process: jest's parent, npm start, bench, chaos).
 * Ports picked by the OS could be handed to two processes at once: a jest worker's stack was told to
 * listen where another worker's callback gateway had just started (seen in CI). Disjoint slices make that
 * impossible between workers; within a process, `handedOut` does.
 */
const RANGE = { start: 10_000, end: 32_000 };
const SLICES = 16;

/** The ports [start, end) a process with this jest worker id (undefined: not a worker) hands out. */
export function portSlice(workerId: string | undefined): { start: number; end: number } {
  const worker = Number(workerId ?? 0);
  // Workers share slices 1..SLICES-1 (more workers than that wrap round among themselves); 0 is never a worker's.
  const index = Number.isInteger(worker) && worker > 0 ? 1 + ((worker - 1) % (SLICES - 1)) : 0;
  const size = Math.floor((RANGE.end - RANGE.start) / SLICES);
  return { start: RANGE.start + index * size, end: RANGE.start + (index + 1) * size };
}

/**
 * Ports this process has handed out: one handed out is not yet bound, so a bind test alone would offer
 * it again (two processes of one stack would then be told the same port).
 */
const handedOut = new Set<number>();
let cursor: number | undefined;

/** A free TCP port on 127.0.0.1 from this process's slice, never one it handed out before while others are left. */
export async function freePort(): Promise<number> {
  const { start, end } = portSlice(process.env.JEST_WORKER_ID);
  const size = end - start;
  // A random start: two processes of slice 0 at once (e.g. a bench beside npm start) rarely meet.
  cursor ??= Math.floor(Math.random() * size);
  for (let round = 0; round < 2; round++) {
    for (let tried = 0; tried < size; tried++) {
      const port = start + (cursor++ % size);
      if (handedOut.has(port) || !(await canBind(port))) continue;
      handedOut.add(port);
      return port;
    }
    // Every port of the slice was handed out once: those not bound now were given back.
    handedOut.clear();
  }
  throw new Error(`no free TCP port in ${start}..${end - 1}`);
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export function canConnect(host: string, port: number, timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Thrown by a waitFor check to stop waiting at once (any other error counts as "not yet"). */
export class GiveUpWaiting extends Error {}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const done = await check().catch((error: unknown) => {
      if (error instanceof GiveUpWaiting) throw error;
      return false;
    });
    if (done) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
