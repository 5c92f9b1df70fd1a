/**
 * A consumer claims an event id before it acts, so that of several copies of one event (a redelivery, a
 * publisher's retry, two replicas each given one copy) exactly one runs its handler at a time, and none
 * runs it after one has succeeded. Implemented on the service's database by @pay/db `createInbox`.
 *
 * - `claimed`: this copy holds the event (for a lease) and runs the handler.
 * - `done`: an earlier copy's effect is stored: acknowledge this one as a duplicate.
 * - `busy`: another copy holds a live lease: come back later (the holder will finish, or its lease runs
 *   out because it crashed and a later copy takes the claim over).
 */
export type ClaimOutcome = 'claimed' | 'done' | 'busy';

export interface Inbox {
  claim(eventId: string, type: string): Promise<ClaimOutcome>;
  /** The handler's effect is stored: every later copy is a duplicate. */
  complete(eventId: string): Promise<void>;
  /** The handler failed: give the claim up so that the retried copy can take it at once. */
  release(eventId: string): Promise<void>;
}
