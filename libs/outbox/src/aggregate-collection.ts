import type { Model } from 'mongoose';
import type { EventEnvelope } from '@pay/contracts';
import { writeIfCurrent } from '@pay/db';
import { outboxEntries, type OutboxFields } from './outbox-fields';
import type { OutboxDocument, OutboxRelay } from './relay';

/** A stored aggregate document as the domain sees it: its fields and its version, never its outbox. */
export type Versioned<D> = D & { version: number };

/**
 * The one write path of an aggregate's collection: insert with its first events, load, and a save that
 * writes the new state and the events it caused in ONE write, only if the stored version is still the
 * one the decision was made on (`{_id, version}` filter; on the embedded FerretDB the version guard
 * trigger makes that hold across processes too). Written events are handed to the relay at once.
 */
export class AggregateCollection<D extends { _id: string }> {
  constructor(
    private readonly model: Model<D>,
    private readonly relay: OutboxRelay,
  ) {}

  private key(id: string): string {
    return `${this.model.collection.collectionName}/${id}`;
  }

  /** Inserts a new aggregate at version 1 with its first events; unique-index refusals are thrown as they are. */
  async insert(document: D, events: readonly EventEnvelope[]): Promise<void> {
    const outbox = outboxEntries(1, events);
    const stored = {
      ...document,
      version: 1,
      outbox,
      outbox_pending: events.length > 0,
      ...(events.length > 0 ? this.relay.leaseFields() : { outbox_lease_until: null, outbox_lease_owner: null }),
    } satisfies OutboxFields & { _id: string };
    await this.model.collection.insertOne(stored as never);
    this.relay.handOff(this.model, { _id: document._id, version: 1, outbox });
  }

  async load(id: string): Promise<Versioned<D> | null> {
    const document = await this.model.collection.findOne(
      { _id: id as never },
      { projection: { outbox: 0, outbox_pending: 0, outbox_lease_until: 0, outbox_lease_owner: 0 } },
    );
    if (!document) return null;
    return { ...(document as unknown as D), version: (document as { version?: number }).version ?? 0 };
  }

  /**
   * Writes `set` (the aggregate's changed state) and `events` at version `expectedVersion + 1`, only if
   * the stored version is still `expectedVersion`. Null when another writer got there first.
   */
  async save(id: string, expectedVersion: number, set: Partial<D>, events: readonly EventEnvelope[]): Promise<Versioned<D> | null> {
    const version = expectedVersion + 1;
    const outbox = outboxEntries(version, events);
    const $set: Record<string, unknown> = { ...set, version };
    for (const [key, event] of Object.entries(outbox)) $set[`outbox.${key}`] = event;
    if (events.length > 0) Object.assign($set, { outbox_pending: true }, this.relay.leaseFields());
    const written = (await writeIfCurrent(this.key(id), () =>
      this.model.collection.findOneAndUpdate(
        // Version 0 stands for a document stored before versions existed (it has no `version` field).
        { _id: id as never, version: expectedVersion === 0 ? null : expectedVersion } as never,
        { $set } as never,
        { returnDocument: 'after' }, // no projection: FerretDB v1's findAndModify does not support `fields`
      ),
    )) as unknown as (OutboxDocument & D) | null;
    if (!written) return null;
    if (events.length > 0) this.relay.handOff(this.model, written);
    const { outbox: _outbox, outbox_pending: _pending, outbox_lease_until: _until, outbox_lease_owner: _owner, ...state } = written as unknown as D &
      OutboxFields;
    return state as unknown as Versioned<D>;
  }

}
