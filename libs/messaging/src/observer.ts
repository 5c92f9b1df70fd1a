/**
 * What became of a delivered message: handled; duplicate (an earlier copy's effect is stored); busy
 * (another consumer holds the event, the copy comes back later); retried; dead-lettered; refused
 * (dead-lettered as unauthorized_producer: not published by the service entitled to its type).
 */
export type ConsumeOutcome = 'handled' | 'duplicate' | 'busy' | 'retried' | 'dead_lettered' | 'refused';

/** Hooks for metrics without tying this package to a metrics library. */
export interface BrokerObserver {
  onPublished?(type: string): void;
  onConsumed?(type: string, outcome: ConsumeOutcome, redelivered: boolean): void;
  onConnectionChange?(connected: boolean): void;
}
