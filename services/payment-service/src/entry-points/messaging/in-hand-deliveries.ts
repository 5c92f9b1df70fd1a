import type { ClaimOutcome, Inbox } from '@pay/messaging';

/**
 * Deliveries of some event types this process has taken off its queue and not yet settled. RabbitMQ
 * counts a delivered, unacknowledged message nowhere a client can ask (`messageCount` is the READY
 * messages only), so up to `prefetch` messages are invisible in the queue's depth while they are
 * handled: this counts them. It wraps the inbox, because claiming is the first thing the consumer does
 * with a delivery, in the same tick it arrives (parse and dispatch are synchronous), and completing the
 * claim the last thing after the handler's effect is stored.
 */
export class InHandDeliveries {
  private pending = 0;
  private readonly claimed = new Set<string>();

  /**
   * @param graceMs how long a copy that leaves for a delay queue (busy, or its handler failed) still
   * counts: the consumer moves it there (confirmed) just after the inbox hears of it.
   */
  constructor(
    private readonly types: readonly string[],
    private readonly graceMs = 1000,
  ) {}

  /** Tracked deliveries in hand now. */
  get count(): number {
    return this.pending;
  }

  /** The inbox the consumer uses, counting tracked deliveries from claim to complete or release. */
  track(inbox: Inbox): Inbox {
    return {
      claim: async (eventId: string, type: string): Promise<ClaimOutcome> => {
        if (!this.types.includes(type)) return inbox.claim(eventId, type);
        this.pending += 1;
        let outcome: ClaimOutcome;
        try {
          outcome = await inbox.claim(eventId, type);
        } catch (error) {
          this.settleLater(); // the copy goes to a delay queue
          throw error;
        }
        if (outcome === 'claimed') this.claimed.add(eventId);
        else if (outcome === 'busy') this.settleLater(); // comes back through a delay queue
        else this.pending -= 1; // done: an earlier copy's effect is stored
        return outcome;
      },
      complete: async (eventId: string): Promise<void> => {
        try {
          await inbox.complete(eventId);
        } finally {
          // The handler's effect is stored before complete is called, whatever complete's own fate.
          if (this.claimed.delete(eventId)) this.pending -= 1;
        }
      },
      release: async (eventId: string): Promise<void> => {
        try {
          await inbox.release(eventId);
        } finally {
          if (this.claimed.delete(eventId)) this.settleLater(); // the handler failed: to a delay queue
        }
      },
    };
  }

  private settleLater(): void {
    setTimeout(() => (this.pending -= 1), this.graceMs).unref();
  }
}
