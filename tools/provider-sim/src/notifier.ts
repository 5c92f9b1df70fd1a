import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { z } from 'zod';
import type { DeliveryRecord } from './ledger';

/**
 * Delivers provider notifications the way the providers do: signed afresh for every attempt (the
 * receiver checks a 5-minute window), the same notification id every time, retried on the provider's
 * schedule (time-scaled) until the provider's own acknowledgement comes back or the schedule runs out.
 */

/** WeChat Pay: 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h after the first attempt. */
export const WECHATPAY_RETRY_DELAYS_S = [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600] as const;
/** Alipay: 8 notifications within 25 hours (4m, 10m, 10m, 1h, 2h, 6h, 15h after the first). */
export const ALIPAY_RETRY_DELAYS_S = [240, 600, 600, 3600, 7200, 21600, 54000] as const;

/** WeChat Pay gives the receiver 5 s; the same bound serves for all (it is not time-scaled: it is I/O). */
const ANSWER_TIMEOUT_MS = 5000;
const MAX_ANSWER_BYTES = 64 * 1024;

export type NotifyMode = { kind: 'normal' } | { kind: 'never' } | { kind: 'duplicate' } | { kind: 'delay'; seconds: number };

/** "normal" | "never" | "duplicate" | "delay_s:<seconds>" */
export const notifyModeSchema = z
  .string()
  .regex(/^(normal|never|duplicate|delay_s:\d{1,6}(\.\d{1,3})?)$/, 'must be normal, never, duplicate or delay_s:<seconds>')
  .transform((text): NotifyMode => {
    if (text.startsWith('delay_s:')) return { kind: 'delay', seconds: Number(text.slice('delay_s:'.length)) };
    return { kind: text as 'normal' | 'never' | 'duplicate' };
  });

export const NORMAL: NotifyMode = { kind: 'normal' };

/** WeChat Pay (and our mock provider) stop on any 2xx; a 200 with {"code":"FAIL"} is not retried either. */
export const acknowledgedBy2xx = (status: number): boolean => status >= 200 && status < 300;

export interface OutboundNotification {
  id: string;
  /** For logs and the ledger: TRANSACTION.SUCCESS, trade_status_sync, REFUND.ABNORMAL, ... */
  event: string;
  url: string;
  retryDelaysS: readonly number[];
  /** Builds the signed request for one attempt at `now`. */
  sign(now: Date): { headers: Record<string, string>; rawBody: string };
  /** The provider's rule for "the merchant has it": WeChat any 2xx, Alipay the body `success`. */
  acknowledged(status: number, body: string): boolean;
  /** Where the attempts are written down (the order's or the refund's ledger entry). */
  records: DeliveryRecord[];
}

/** Every pending timer of the simulator, so close() leaves nothing behind. */
export class Timers {
  private readonly pending = new Set<NodeJS.Timeout>();
  private stopped = false;

  later(delayMs: number, run: () => void): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      run();
    }, Math.max(0, delayMs));
    this.pending.add(timer);
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }
}

export class Notifier {
  private readonly inFlight = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly timers: Timers,
    private readonly timeScale: number,
    private readonly log: (line: string) => void,
  ) {}

  send(notification: OutboundNotification, mode: NotifyMode): void {
    if (mode.kind === 'never') {
      this.log(`notification ${notification.event} ${notification.id}: not sent (notify=never)`);
      return;
    }
    const firstDelayMs = mode.kind === 'delay' ? mode.seconds * 1000 * this.timeScale : 0;
    const copies = mode.kind === 'duplicate' ? 2 : 1;
    // Each copy is its own delivery with its own retries, as when a provider sends a notification twice.
    for (let copy = 0; copy < copies; copy += 1) this.timers.later(firstDelayMs, () => void this.attempt(notification, 1));
  }

  close(): void {
    this.closed = true;
    for (const abort of this.inFlight) abort();
    this.inFlight.clear();
  }

  private async attempt(notification: OutboundNotification, attempt: number): Promise<void> {
    if (this.closed) return;
    const signed = notification.sign(new Date());
    const answer = await this.post(notification.url, signed.headers, signed.rawBody);
    if (this.closed) return;
    const acknowledged = answer !== null && notification.acknowledged(answer.status, answer.body);
    notification.records.push({
      notification_id: notification.id,
      event: notification.event,
      at: new Date().toISOString(),
      attempt,
      status_code: answer?.status ?? null,
      acknowledged,
    });
    this.log(`notification ${notification.event} ${notification.id} attempt ${attempt} → ${answer?.status ?? 'no answer'}${acknowledged ? ' (acknowledged)' : ''}`);
    const retryDelayS = notification.retryDelaysS[attempt - 1];
    if (acknowledged || retryDelayS === undefined) return;
    this.timers.later(retryDelayS * 1000 * this.timeScale, () => void this.attempt(notification, attempt + 1));
  }

  /** One POST; null when there was no HTTP answer. No connection reuse: each attempt stands alone. */
  private post(url: string, headers: Record<string, string>, rawBody: string): Promise<{ status: number; body: string } | null> {
    return new Promise((resolve) => {
      const body = Buffer.from(rawBody, 'utf8');
      let settled = false;
      const finish = (result: { status: number; body: string } | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        this.inFlight.delete(abort);
        resolve(result);
      };
      const target = new URL(url);
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const request = send(target, { method: 'POST', agent: false, headers: { ...headers, 'content-length': String(body.length), connection: 'close' } }, (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
        });
        response.on('end', () => finish({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', () => finish(null));
      });
      const abort = () => {
        request.destroy();
        finish(null);
      };
      const timeout = setTimeout(abort, ANSWER_TIMEOUT_MS);
      this.inFlight.add(abort);
      request.on('error', () => finish(null));
      request.end(body);
    });
  }
}
