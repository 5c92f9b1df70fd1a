import { EVENT_PRODUCERS, EVENT_TYPES, type AnyEvent, type EventEnvelope, type EventType } from '@pay/contracts';

/**
 * What one service puts on the bus and takes off it, declared once in its `src/events.ts`. Pure data:
 * the broker binds the service's queue to exactly `consumes`, refuses to publish a type missing from
 * `emits`, and the harness declares every service's queue from these before any service starts.
 */
export interface ServiceEvents<C extends EventType = EventType> {
  readonly service: string;
  readonly emits: readonly EventType[];
  readonly consumes: readonly C[];
}

/**
 * One handler per consumed type, no more, no fewer: a type added to `consumes` without its handler,
 * or a handler for a type not consumed, does not compile.
 */
export type EventHandlers<D extends ServiceEvents> = {
  readonly [T in D['consumes'][number]]: (event: EventEnvelope<T>) => Promise<void>;
};

/**
 * Checks a service's declaration once, at load, and keeps the consumed types' literal union for its
 * handler map. A service may emit only the types EVENT_PRODUCERS gives it: consumers refuse the others
 * (a test standing in for a producer declares that producer's name).
 */
export function defineServiceEvents<const C extends EventType = never>(declaration: {
  service: string;
  emits: readonly EventType[];
  consumes: readonly C[];
}): ServiceEvents<C> {
  for (const field of ['emits', 'consumes'] as const) {
    const types: readonly string[] = declaration[field];
    const unknown = types.filter((type) => !(EVENT_TYPES as readonly string[]).includes(type));
    if (unknown.length > 0) throw new Error(`${declaration.service} ${field} unknown event types: ${unknown.join(', ')}`);
    if (new Set(types).size !== types.length) throw new Error(`${declaration.service} lists an event type twice in ${field}`);
  }
  const foreign = declaration.emits.filter((type) => EVENT_PRODUCERS[type] !== declaration.service);
  if (foreign.length > 0) {
    throw new Error(`${declaration.service} emits event types another service produces: ${foreign.map((type) => `${type} (${EVENT_PRODUCERS[type]})`).join(', ')}`);
  }
  return Object.freeze({ service: declaration.service, emits: Object.freeze([...declaration.emits]), consumes: Object.freeze([...declaration.consumes]) });
}

/** The same handler for every consumed type (the audit log records every event alike). */
export function handleAllWith<D extends ServiceEvents>(events: D, handler: (event: AnyEvent) => Promise<void>): EventHandlers<D> {
  return Object.fromEntries(events.consumes.map((type) => [type, handler])) as unknown as EventHandlers<D>;
}
