import { EventEmitter, once } from 'node:events';

/**
 * "Record X was just stored here": projections fed by events announce what they stored, and a request
 * that needs a record whose event is still in flight waits for the announcement instead of polling the
 * database (under load, a hundred pollers took the pool from the very consumer they waited for).
 */
export class Arrivals {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  announce(key: string): void {
    this.emitter.emit(channelOf(key));
  }

  /** Resolves at the next announcement of `key`, after `maxMs`, or when `signal` aborts. */
  async next(key: string, maxMs: number, signal?: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(Math.max(0, maxMs));
    await once(this.emitter, channelOf(key), { signal: signal ? AbortSignal.any([signal, timeout]) : timeout }).catch(() => undefined);
  }
}

/** Namespaced, so no key can collide with EventEmitter's special `error` event. */
function channelOf(key: string): string {
  return `arrived:${key}`;
}

/**
 * Reads until the record exists or `waitMs` has passed. Between reads it sleeps until `nextArrival`
 * (this process's announcement) or `recheckMs` (another replica may store it), whichever comes first.
 * It listens before it reads, so an arrival between the two is not missed.
 */
export async function waitForRecord<T>(
  read: () => Promise<T | null>,
  nextArrival: ((maxMs: number, signal: AbortSignal) => Promise<void>) | undefined,
  waitMs: number,
  recheckMs = 1000,
): Promise<T | null> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const stopListening = new AbortController();
    const left = deadline - Date.now();
    const pause = Math.max(1, Math.min(left, recheckMs));
    const arrival = nextArrival ? nextArrival(pause, stopListening.signal) : new Promise<void>((resolve) => setTimeout(resolve, pause));
    const record = await read();
    if (record || left <= 0) {
      stopListening.abort();
      return record;
    }
    await arrival;
  }
}
