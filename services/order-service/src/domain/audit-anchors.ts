import type { AuditAnchor, EventEnvelope } from '@pay/contracts';

/**
 * The order-service keeps the audit chain's anchors (`audit.checkpoint`) outside the audit database, so
 * someone able to write that database cannot also remove the proof of how far the chain reached. It
 * only stores them: it does not hold the chain key, so it can neither forge an anchor nor check one
 * (the audit-service's verify does, with its key).
 */
export interface KeptAuditAnchor extends AuditAnchor {
  /** The `audit.checkpoint` event's id: keeping is idempotent by it. */
  event_id: string;
}

/** What verify compares the audit chain against. */
export interface AnchorsToCheck {
  /** The anchor with the highest seq (anchors may arrive out of order, or twice); null: none yet. */
  latest: AuditAnchor | null;
  /**
   * Anchors another anchor skipped (held, with a seq between that anchor's `prev` and its own), highest
   * seq first, at most MAX_SKIPPED_ANCHORS: after a cut the chain was anchored again past, the anchors
   * over the cut are among them, and the chain no longer satisfies them.
   */
  skipped: AuditAnchor[];
}

export interface AuditAnchorStore {
  /**
   * Stores the anchor once per event id (a second copy changes nothing) and marks what it skips, and
   * whether it is itself skipped by one held already (anchors arrive in any order); true when newly stored.
   */
  keep(anchor: KeptAuditAnchor): Promise<boolean>;
  anchorsToCheck(): Promise<AnchorsToCheck>;
}

export async function keepAuditAnchor(store: AuditAnchorStore, event: EventEnvelope<'audit.checkpoint'>): Promise<boolean> {
  return store.keep({ ...event.data, event_id: event.id });
}
