import { setTimeout as sleep } from 'node:timers/promises';
import type { EventEnvelope } from '@pay/contracts';

/**
 * An aggregate: state that changes only through its own intention-named moves, each of which checks
 * the transition table, appends to the aggregate's log and records the events it causes. `version` is
 * the stored version the aggregate was loaded at; the repository writes state and events in one write
 * only if the stored version is still that one.
 */
export abstract class AggregateRoot<S extends { id: string } = { id: string }> {
  private pending: EventEnvelope[] = [];
  private touched = false;

  protected constructor(
    /** The aggregate's state; only its own moves replace it. */
    protected current: S,
    readonly version: number,
  ) {}

  get state(): Readonly<S> {
    return this.current;
  }

  get id(): string {
    return this.current.id;
  }

  /** Events caused by the moves made since loading, in the order they happened. */
  get newEvents(): readonly EventEnvelope[] {
    return this.pending;
  }

  /** Whether a move (or a log note) changed the aggregate since it was loaded. */
  get changed(): boolean {
    return this.touched;
  }

  protected recordChange(...events: EventEnvelope[]): void {
    this.touched = true;
    this.pending.push(...events);
  }
}

/** What the use cases need from storage for one aggregate type. */
export interface AggregateRepository<A extends AggregateRoot<{ id: string }>> {
  load(id: string): Promise<A | null>;
  /**
   * Writes the aggregate's state and its new events in ONE atomic write, only if the stored version is
   * still `aggregate.version`. Returns the aggregate as stored (version + 1), or null when another
   * writer got there first.
   */
  save(aggregate: A): Promise<A | null>;
}

export interface ChangeOptions {
  /** How many times a lost race is decided again before giving up (default 8). */
  attempts?: number;
  /** Upper bound of the random pause before attempt n is `n × jitterMs` (default 10). */
  jitterMs?: number;
  /** The error when there is no such aggregate. */
  notFound: () => Error;
  /** The error when other writers kept winning. */
  contended: () => Error;
}

export interface Changed<A, R> {
  aggregate: A;
  result: R;
}

/**
 * The one read → decide → write loop: load the aggregate, let `act` make its moves on it, and save it
 * guarded by the version it was loaded at. A lost race (another process wrote first) loads the new
 * state and decides again, so every decision is made on the state it is written over. `act` must be
 * free of side effects other than the aggregate's moves: it may run more than once.
 */
export async function changeAggregate<A extends AggregateRoot<{ id: string }>, R>(
  repository: AggregateRepository<A>,
  id: string,
  act: (aggregate: A) => R,
  options: ChangeOptions,
): Promise<Changed<A, R>> {
  const attempts = options.attempts ?? 8;
  const jitterMs = options.jitterMs ?? 10;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const aggregate = await repository.load(id);
    if (!aggregate) throw options.notFound();
    const result = act(aggregate);
    if (!aggregate.changed) return { aggregate, result }; // nothing to change: an idempotent repeat
    const stored = await repository.save(aggregate);
    if (stored) return { aggregate: stored, result };
    await sleep(Math.floor(Math.random() * jitterMs * attempt));
  }
  throw options.contended();
}
