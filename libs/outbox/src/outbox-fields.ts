import { Schema } from 'mongoose';
import type { EventEnvelope } from '@pay/contracts';

/**
 * Transactional outbox inside the aggregate's own document. FerretDB (and MongoDB without a replica set)
 * has no multi-document transactions, so a state change and the events it causes are written in ONE
 * document write: `outbox.<key> = envelope` plus `outbox_pending = true`. A relay publishes them with
 * publisher confirms and only then removes them: a crash anywhere re-publishes at worst (consumers claim
 * by event id), never loses.
 *
 * A map (not an array) because FerretDB v1's `$pull` only matches whole values; `$unset: {"outbox.<key>"}`
 * removes exactly the confirmed events even while new ones are added.
 *
 * The lease says which relay publishes the pending events now: the process that wrote them holds it for
 * `leaseMs` and publishes them straight from the write's result; only when it has not cleared them by
 * then (it crashed, the broker was down) does another relay take the lease over and publish them.
 */
export interface OutboxFields {
  version: number;
  outbox: Record<string, EventEnvelope>;
  outbox_pending: boolean;
  outbox_lease_until: Date | null;
  outbox_lease_owner: string | null;
}

/** Schema paths to spread into an aggregate schema (its options must include `minimize: false`). */
export const outboxSchemaFields = {
  version: { type: Number, required: true, default: 1 },
  outbox: { type: Schema.Types.Mixed, default: () => ({}) },
  outbox_pending: { type: Boolean, default: false, index: true },
  outbox_lease_until: { type: Date, default: null },
  outbox_lease_owner: { type: String, default: null },
};

/**
 * Outbox keys sort in the order the events happened, across processes too: the version of the write
 * that enqueued them, then their place in that write (a document's key order is not something FerretDB
 * preserves, and clocks of two machines do not agree).
 */
export function outboxEntries(version: number, events: readonly EventEnvelope[]): Record<string, EventEnvelope> {
  return Object.fromEntries(
    events.map((event, index) => [`${String(version).padStart(12, '0')}_${String(index).padStart(4, '0')}_${event.id}`, event]),
  );
}

/** Pending events of a document in the order they must leave. */
export function pendingInOrder(outbox: Record<string, EventEnvelope> | undefined): [string, EventEnvelope][] {
  return Object.entries(outbox ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
