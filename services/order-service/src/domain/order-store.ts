import type { EventEnvelope } from '@pay/contracts';
import type { Order, OrderChange } from './order';

export interface OrderStore {
  /** Runs read → decide → write on one order with no other writer of it in between (see DocumentLocks). */
  exclusive<T>(id: string, work: () => Promise<T>): Promise<T>;
  /** Throws DuplicateOrder when a unique index refuses it (order number, or the request's idempotency key). */
  insert(order: Order, events: EventEnvelope[], request?: { key: string; fingerprint: string } | null): Promise<void>;
  findByIdempotencyKey(key: string): Promise<{ order: Order; fingerprint: string } | null>;
  get(id: string): Promise<Order | null>;
  /** One conditional write (still in `change.from`) with its events; null if it moved meanwhile. */
  apply(order: Order, change: OrderChange, events: (after: Order) => EventEnvelope[]): Promise<Order | null>;
  list(filter: { userId?: string; status?: string }, page: number, pageSize: number): Promise<{ items: Order[]; count: number }>;
}
