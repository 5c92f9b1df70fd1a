import { Schema, type Model } from 'mongoose';
import type { EventEnvelope } from '@pay/contracts';
import { DocumentLocks } from '@pay/db';
import type { Logger } from '@pay/logger';

/**
 * Transactional outbox inside the aggregate's own document. FerretDB (and MongoDB without a replica set)
 * has no multi-document transactions, so the state change and the events it causes are written in ONE
 * document update: `outbox.<eventId> = envelope` plus `outbox_pending = true`. A relay publishes pending
 * events with publisher confirms and only then removes them; a crash anywhere re-publishes at worst
 * (consumers are idempotent by event id), never loses.
 *
 * A map (not an array) because FerretDB v1's `$pull` only matches whole values; `$unset: {"outbox.<key>"}`
 * removes exactly the confirmed event even while new ones are added.
 */
export interface OutboxFields {
  outbox: Record<string, EventEnvelope>;
  outbox_pending: boolean;
}

/** Schema paths to spread into an aggregate schema (its options must include `minimize: false`). */
export const outboxSchemaFields = {
  outbox: { type: Schema.Types.Mixed, default: () => ({}) },
  outbox_pending: { type: Boolean, default: false, index: true },
};

let lastStamp = 0;
let sequence = 0;

/**
 * Outbox keys sort in enqueue order (events of one change share a millisecond; the document's key order
 * is not something FerretDB preserves): `<ms, 15 digits><sequence, 6 digits>_<event id>`.
 */
function outboxKey(event: EventEnvelope): string {
  const now = Date.now();
  sequence = now === lastStamp ? sequence + 1 : 0;
  lastStamp = now;
  return `${String(now).padStart(15, '0')}${String(sequence).padStart(6, '0')}_${event.id}`;
}

/** Fields for a new document that starts life with events (e.g. `order.created`). */
export function initialOutbox(events: EventEnvelope[]): OutboxFields {
  return { outbox: Object.fromEntries(events.map((event) => [outboxKey(event), event])), outbox_pending: events.length > 0 };
}

/** The `$set` entries that enqueue events in the same atomic update as the state change. */
export function enqueueEvents(events: EventEnvelope[]): Record<string, unknown> {
  const set: Record<string, unknown> = {};
  for (const event of events) set[`outbox.${outboxKey(event)}`] = event;
  if (events.length > 0) set.outbox_pending = true;
  return set;
}

export interface EventPublisher {
  publish(event: EventEnvelope): Promise<void>;
}

export interface OutboxRelayOptions {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  models: Model<any>[];
  publisher: EventPublisher;
  logger: Logger;
  intervalMs?: number;
  batchSize?: number;
  onPublished?: (event: EventEnvelope) => void;
  /**
   * The same locks the aggregate's repository writes under (keys `<collection>/<id>`): removing
   * published events is a write to the aggregate document too.
   */
  locks?: DocumentLocks;
  /** Documents with pending events seen in the last pass (for the outbox backlog gauge). */
  onBacklog?: (documents: number) => void;
}

export class OutboxRelay {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private lastFailure = 0;
  private readonly locks: DocumentLocks;
  constructor(private readonly options: OutboxRelayOptions) {
    this.locks = options.locks ?? new DocumentLocks();
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Asks for a pass now (after a local write), instead of waiting for the next poll. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  private schedule(delay: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.runOnce().finally(() => {
        this.running = null;
        if (this.stopped) return;
        const repeat = this.again;
        this.again = false;
        this.schedule(repeat ? 0 : (this.options.intervalMs ?? 500));
      });
    }, delay);
  }

  private async runOnce(): Promise<void> {
    try {
      await this.drainOnce();
    } catch (error) {
      // Broker or database down: the events stay in the documents; log at most every 10 s.
      if (Date.now() - this.lastFailure > 10_000) {
        this.options.logger.warn('outbox relay could not publish; will retry', { error: (error as Error).message });
        this.lastFailure = Date.now();
      }
    }
  }

  /** Publishes every pending event once; returns how many were confirmed. */
  async drainOnce(): Promise<number> {
    let published = 0;
    let backlog = 0;
    for (const model of this.options.models) {
      const documents = await model.collection
        .find({ outbox_pending: true }, { projection: { outbox: 1 } })
        .limit(this.options.batchSize ?? 50)
        .toArray();
      backlog += documents.length;
      // Documents in parallel, so broker confirms overlap; each document's events stay in order.
      const results = await Promise.allSettled(documents.map((document) => this.drainDocument(model, document as { _id: never; outbox?: unknown })));
      for (const result of results) if (result.status === 'fulfilled') published += result.value;
      const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failure) throw failure.reason;
    }
    this.options.onBacklog?.(backlog);
    return published;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private async drainDocument(model: Model<any>, document: { _id: never; outbox?: unknown }): Promise<number> {
    const entries = Object.entries((document.outbox ?? {}) as Record<string, EventEnvelope>).sort(([a], [b]) => (a < b ? -1 : 1));
    for (const [, event] of entries) {
      await this.options.publisher.publish(event);
      this.options.onPublished?.(event);
    }
    await this.locks.run(`${model.collection.collectionName}/${String(document._id)}`, async () => {
      if (entries.length > 0) {
        await model.collection.updateOne({ _id: document._id }, { $unset: Object.fromEntries(entries.map(([key]) => [`outbox.${key}`, ''])) });
      }
      // Only clears the flag if nothing new was enqueued meanwhile.
      await model.collection.updateOne({ _id: document._id, outbox: {} }, { $set: { outbox_pending: false } });
    });
    return entries.length;
  }


  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
