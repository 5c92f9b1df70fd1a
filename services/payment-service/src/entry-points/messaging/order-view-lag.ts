import type { OrderViewLag } from '../../domain/order-view-lag';

/** Messages waiting in the service's queues (Broker.queueDepths): READY ones only, not those in hand. */
export interface WaitingMessages {
  main: number;
  retry: number;
}

export interface ConsumerLagOptions {
  /** The service's queues as the broker counts them now. */
  waiting: () => Promise<WaitingMessages>;
  /** Order events this process holds, delivered but not yet recorded (InHandDeliveries.count). */
  inHand: () => number;
  /** A broker that does not answer within this is taken as "behind" (default 2 s). */
  timeoutMs?: number;
}

/**
 * The view lags while the service's own queue still holds messages it has not processed: ready in the
 * main queue (consumer lag), waiting in a delay queue (retries), or delivered to this process and not
 * yet recorded. The queue is read before the in-hand count, so a message that moves from one to the
 * other between the two reads is seen in one of them. A broker that cannot be asked counts as behind.
 *
 * Not seen: deliveries another replica holds unacknowledged (at most its prefetch, for the moments it
 * takes to handle them); the order service's outbox events not yet published.
 *
 * Concurrent questions share one broker round trip: a caller joins a check that starts after its call
 * (the one running may predate what the caller waited for), so a burst of creates costs two checks.
 */
export class ConsumerLag implements OrderViewLag {
  private running: Promise<boolean> | null = null;
  private queued: Promise<boolean> | null = null;

  constructor(private readonly options: ConsumerLagOptions) {}

  isBehind(): Promise<boolean> {
    if (this.options.inHand() > 0) return Promise.resolve(true);
    if (!this.running) return this.start();
    this.queued ??= this.running.then(() => {
      this.queued = null;
      return this.start();
    });
    return this.queued;
  }

  private start(): Promise<boolean> {
    const check = this.check().finally(() => {
      if (this.running === check) this.running = null;
    });
    this.running = check;
    return check;
  }

  /** Never rejects: an unanswered question is "behind". */
  private async check(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), this.options.timeoutMs ?? 2000);
    });
    try {
      const asked = this.options.waiting();
      asked.catch(() => undefined); // a late failure, after the timeout won, is not an unhandled rejection
      const waiting = await Promise.race([asked, timeout]);
      if (!waiting || waiting.main + waiting.retry > 0) return true;
      return this.options.inHand() > 0;
    } catch {
      return true;
    } finally {
      clearTimeout(timer);
    }
  }
}
