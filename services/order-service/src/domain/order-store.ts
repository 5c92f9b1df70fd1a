import type { AggregateRepository } from '@pay/aggregate';
import type { Order, OrderAggregate } from './order';

export interface OrderStore extends AggregateRepository<OrderAggregate> {
  /** Throws DuplicateOrder when a unique index refuses it (order number, or the request's idempotency key). */
  insert(order: OrderAggregate, request?: { key: string; fingerprint: string } | null): Promise<void>;
  findByIdempotencyKey(key: string): Promise<{ order: Order; fingerprint: string } | null>;
  /** The order as stored, for views. */
  get(id: string): Promise<Order | null>;
  list(filter: { userId?: string; status?: string }, page: number, pageSize: number): Promise<{ items: Order[]; count: number }>;
}
