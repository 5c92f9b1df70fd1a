import { randomUUID } from 'node:crypto';
import type { Model } from 'mongoose';
import { faultPoint } from '@pay/config';
import type { EventEnvelope } from '@pay/contracts';
import { bumpVersion, writeIfCurrent } from '@pay/db';
import type { Logger } from '@pay/logger';
import { pendingInOrder, type OutboxFields } from './outbox-fields';

export interface EventPublisher {
  publish(event: EventEnvelope): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyModel = Model<any>;

/** The fields of a stored document the relay works with. */
export type OutboxDocument = Pick<OutboxFields, 'version' | 'outbox'> & { _id: string };

export interface OutboxRelayOptions {
  models: AnyModel[];
  publisher: EventPublisher;
  logger: Logger;
  /** How often to look for documents whose lease ran out with events still pending (default 1 s). */
  intervalMs?: number;
  /** How long the writer of new events has them to itself before another relay may take over (default 5 s). */
  leaseMs?: number;
  batchSize?: number;
  onPublished?: (event: EventEnvelope) => void;
  /** Documents with abandoned pending events seen in the last recovery pass (outbox backlog gauge). */
  onBacklog?: (documents: number) => void;
}

const CLEAR_ATTEMPTS = 6;

/**
 * Publishes outbox events with publisher confirms, then removes them from their document.
 *
 * Normal path: the repository that wrote events hands the written document over (`handOff`) and this
 * process publishes them at once, no re-read. Recovery path: a periodic pass finds documents whose
 * events are still pending after their lease ran out (the writer crashed, or the broker was down),
 * takes the lease with a versioned write (so of N replicas exactly one publishes them) and publishes.
 * Each document's events leave in key order; a crash between confirm and removal re-publishes them,
 * which consumers absorb by event id.
 */
export class OutboxRelay {
  /** Written into `outbox_lease_owner`, so a document says which process holds its events. */
  readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  private lastFailure = 0;
  private readonly handOffs = new Set<Promise<void>>();
  readonly leaseMs: number;

  constructor(private readonly options: OutboxRelayOptions) {
    this.leaseMs = options.leaseMs ?? 5000;
  }

  /** `$set` entries that give this relay the lease on the events a write adds. */
  leaseFields(now = new Date()): { outbox_lease_until: Date; outbox_lease_owner: string } {
    return { outbox_lease_until: new Date(now.getTime() + this.leaseMs), outbox_lease_owner: this.owner };
  }

  start(): void {
    this.stopped = false;
    this.schedule(this.options.intervalMs ?? 1000);
  }

  /**
   * Publishes the pending events of a document this process has just written (and holds the lease
   * on), in the background. A failure leaves them in the document for the recovery pass.
   */
  handOff(model: AnyModel, document: OutboxDocument): void {
    if (pendingInOrder(document.outbox).length === 0) return;
    // The write that holds these events is stored and nothing is published yet: recovery must publish them.
    faultPoint('outbox.after-commit-before-publish');
    const work = this.publishAndClear(model, document).then(
      () => undefined,
      (error: Error) => this.warn('outbox hand-off failed; recovery will publish', error),
    );
    this.handOffs.add(work);
    void work.finally(() => this.handOffs.delete(work));
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.recoverOnce()
        .then(() => undefined, (error: Error) => this.warn('outbox recovery pass failed; will retry', error))
        .finally(() => {
          this.running = null;
          this.schedule(this.options.intervalMs ?? 1000);
        });
    }, delay);
  }

  private warn(message: string, error: Error): void {
    // Broker or database down: the events stay in the documents; log at most every 10 s.
    if (Date.now() - this.lastFailure > 10_000) {
      this.options.logger.warn(message, { error: error.message });
      this.lastFailure = Date.now();
    }
  }

  /**
   * One recovery pass: every document whose pending events nobody holds any more is leased by this
   * relay and published. Returns how many events were confirmed.
   */
  async recoverOnce(now = new Date()): Promise<number> {
    let published = 0;
    let backlog = 0;
    for (const model of this.options.models) {
      const abandoned = await model.collection
        .find(
          { outbox_pending: true, $or: [{ outbox_lease_until: null }, { outbox_lease_until: { $lt: now } }] },
          { projection: { _id: 1, version: 1 } },
        )
        .limit(this.options.batchSize ?? 50)
        .toArray();
      backlog += abandoned.length;
      // Documents in parallel, so broker confirms overlap; each document's events stay in order.
      const results = await Promise.allSettled(
        abandoned.map(async (found) => {
          const leased = await this.takeLease(model, String(found._id), found.version as number | undefined);
          return leased ? this.publishAndClear(model, leased) : 0;
        }),
      );
      for (const result of results) if (result.status === 'fulfilled') published += result.value;
      const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failure) throw failure.reason;
    }
    this.options.onBacklog?.(backlog);
    return published;
  }

  /** Takes the lease on a document's pending events; null when another relay or writer got there first. */
  private async takeLease(model: AnyModel, id: string, version: number | undefined): Promise<OutboxDocument | null> {
    const key = `${model.collection.collectionName}/${id}`;
    const leased = await writeIfCurrent(key, () =>
      model.collection.findOneAndUpdate(
        // Documents written before versions existed have none; the first versioned write gives them one.
        { _id: id as never, version: version ?? null, outbox_pending: true },
        bumpVersion({ $set: this.leaseFields() }),
        { returnDocument: 'after' },
      ),
    );
    return leased ? (leased as unknown as OutboxDocument) : null;
  }

  /** Publishes the document's pending events in order, then removes exactly those from it. */
  private async publishAndClear(model: AnyModel, document: OutboxDocument): Promise<number> {
    const entries = pendingInOrder(document.outbox);
    for (const [, event] of entries) {
      await this.options.publisher.publish(event);
      this.options.onPublished?.(event);
    }
    if (entries.length > 0) {
      // Confirmed at the broker, still in the outbox: recovery publishes them again, consumers absorb the copy.
      faultPoint('outbox.after-publish-before-clear');
      await this.clear(model, document, entries.map(([key]) => key));
    }
    return entries.length;
  }

  /**
   * Removes published events with a versioned write. First assumes the document is as we wrote it;
   * if it moved on (a newer write, maybe with more events), re-reads and removes what is still there.
   */
  private async clear(model: AnyModel, written: OutboxDocument, published: string[]): Promise<void> {
    const key = `${model.collection.collectionName}/${written._id}`;
    let current: OutboxDocument | null = written;
    for (let attempt = 0; attempt < CLEAR_ATTEMPTS && current; attempt++) {
      const stillThere = published.filter((entry) => current!.outbox?.[entry] !== undefined);
      if (stillThere.length === 0) return;
      const remaining = Object.keys(current.outbox ?? {}).length - stillThere.length;
      const update = bumpVersion({
        $unset: Object.fromEntries(stillThere.map((entry) => [`outbox.${entry}`, ''])),
        $set: remaining > 0 ? { outbox_pending: true } : { outbox_pending: false, outbox_lease_until: null, outbox_lease_owner: null },
      });
      const expected = current.version;
      const result = await writeIfCurrent(key, () => model.collection.updateOne({ _id: written._id as never, version: expected }, update));
      if (result && result.matchedCount > 0) return;
      current = (await model.collection.findOne({ _id: written._id as never }, { projection: { version: 1, outbox: 1 } })) as OutboxDocument | null;
    }
    // Still there after several tries (a busy document): the recovery pass removes them after the lease.
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await Promise.allSettled([...this.handOffs]);
  }
}
