import type { EventEnvelope } from '@pay/contracts';
import type { Order, OrderChange } from './order';

export interface OrderStore {
  /** Runs read → decide → write on one order with no other writer of it in between (see DocumentLocks). */
  exclusive<T>(id: string, work: () => Promise<T>): Promise<T>;
  insert(order: Order, events: EventEnvelope[]): Promise<void>;
  get(id: string): Promise<Order | null>;
  /** One conditional write (still in `change.from`) with its events; null if it moved meanwhile. */
  apply(order: Order, change: OrderChange, events: (after: Order) => EventEnvelope[]): Promise<Order | null>;
  list(filter: { userId?: string; status?: string }, page: number, pageSize: number): Promise<{ items: Order[]; count: number }>;
}
