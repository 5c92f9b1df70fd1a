import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Schema, type Connection, type Model } from 'mongoose';
import type { ClaimOutcome, Inbox } from '@pay/messaging';
import { isDuplicateKeyError } from './duplicate-key';
import { bumpVersion, writeIfCurrent } from './versioned-write';

/**
 * One entry per event id this service has claimed. `claimed` entries carry a lease: a holder that
 * crashed stops blocking the event when its lease runs out. `done` entries are permanent (an entry
 * written before claims existed has no state and counts as done).
 */
interface InboxEntry {
  _id: string;
  type: string;
  state?: 'claimed' | 'done';
  lease_until?: Date;
  claimed_by?: string;
  version?: number;
  done_at?: Date;
  processed_at?: Date;
}

export type MongoInbox = Inbox;

export interface InboxOptions {
  /**
   * How long a claim holds before another copy may take it over (default 10 s): longer than a handler
   * normally runs, short enough that the events of a crashed process are not held up for long. A
   * handler that outlives its lease may run once more elsewhere; the handlers' versioned writes make
   * that second run change nothing.
   */
  leaseMs?: number;
}

/** Written into `claimed_by`, so an entry says which process holds it. */
const PROCESS_ID = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
const COMPLETE_ATTEMPTS = 5;

/**
 * The inbox on the service's own database. The claim is an insert into the unique `_id` index, which
 * both MongoDB and FerretDB enforce (of concurrent inserts exactly one wins); taking over a lapsed
 * claim, completing and releasing are versioned writes (see versioned-write.ts), so of two processes
 * acting on one entry at once the second is refused rather than silently overwriting the first.
 */
export function createInbox(connection: Connection, options: InboxOptions = {}): Inbox {
  const leaseMs = options.leaseMs ?? 10_000;
  const collection = inboxModel(connection).collection;
  /** The version of each entry this process holds: its next write must be that plus one. */
  const held = new Map<string, number>();
  const keyOf = (eventId: string) => `processed_events/${eventId}`;

  /** One versioned write to an entry; false when another process wrote it first. */
  const writeAt = async (eventId: string, version: number, update: Record<string, unknown>): Promise<boolean> =>
    ((await writeIfCurrent(keyOf(eventId), () => collection.updateOne({ _id: eventId as never, version }, bumpVersion(update))))?.matchedCount ?? 0) > 0;

  return {
    async claim(eventId, type) {
      const now = Date.now();
      try {
        await collection.insertOne({ _id: eventId as never, type, state: 'claimed', lease_until: new Date(now + leaseMs), claimed_by: PROCESS_ID, version: 1 });
        held.set(eventId, 1);
        return 'claimed';
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
      }
      const entry = (await collection.findOne({ _id: eventId as never })) as InboxEntry | null;
      return entry ? takeOverIfLapsed(entry, now) : 'busy';
    },

    async complete(eventId) {
      const version = held.get(eventId);
      held.delete(eventId);
      if (version !== undefined && (await writeAt(eventId, version, { $set: { state: 'done', done_at: new Date() } }))) return;
      // Our lease ran out while the handler ran and another copy took the claim over. Our effect is
      // stored all the same, so the event is done: mark it so, whoever holds it now.
      for (let attempt = 0; attempt < COMPLETE_ATTEMPTS; attempt++) {
        const entry = (await collection.findOne({ _id: eventId as never })) as InboxEntry | null;
        if (!entry || entry.state !== 'claimed') return;
        if (await writeAt(eventId, entry.version ?? 0, { $set: { state: 'done', done_at: new Date() } })) return;
      }
      throw new Error(`inbox entry ${eventId} kept changing; could not mark it done`);
    },

    async release(eventId) {
      const version = held.get(eventId);
      held.delete(eventId);
      // Expire the lease rather than delete the entry: the retried copy takes it over at once, and a
      // release that comes too late (the claim was taken over meanwhile) changes nothing.
      if (version !== undefined) await writeAt(eventId, version, { $set: { lease_until: new Date(0) } });
    },
  };

  async function takeOverIfLapsed(entry: InboxEntry, now: number): Promise<ClaimOutcome> {
    if (entry.state !== 'claimed') return 'done';
    if ((entry.lease_until?.getTime() ?? 0) > now) return 'busy';
    // The holder crashed or gave up: take the claim over. Of two copies doing this at once, the one
    // whose versioned write is refused (or no longer matches) leaves it to the other.
    const version = entry.version ?? 0;
    const taken = await writeAt(entry._id, version, { $set: { lease_until: new Date(Date.now() + leaseMs), claimed_by: PROCESS_ID } });
    if (!taken) return 'busy';
    held.set(entry._id, version + 1);
    return 'claimed';
  }
}

function inboxModel(connection: Connection): Model<InboxEntry> {
  const existing = connection.models.InboxEntry as Model<InboxEntry> | undefined;
  return (
    existing ??
    connection.model<InboxEntry>(
      'InboxEntry',
      new Schema<InboxEntry>(
        {
          _id: { type: String },
          type: { type: String, required: true },
          state: { type: String, enum: ['claimed', 'done'] },
          lease_until: { type: Date },
          claimed_by: { type: String },
          version: { type: Number },
          done_at: { type: Date },
          processed_at: { type: Date },
        },
        { collection: 'processed_events', versionKey: false },
      ),
    )
  );
}
