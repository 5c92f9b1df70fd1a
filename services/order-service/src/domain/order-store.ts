import type { AggregateRepository } from '@pay/aggregate';
import type { Order, OrderAggregate } from './order';

export interface OrderStore extends AggregateRepository<OrderAggregate> {
  /**
   * Throws DuplicateOrder when a unique index refuses it (order number, or the request's idempotency key
   * for the order's user: a key is unique per user, never across users).
   */
  insert(order: OrderAggregate, request?: { key: string; fingerprint: string } | null): Promise<void>;
  /** The order this user placed with this Idempotency-Key, if any. */
  findByIdempotencyKey(userId: string, key: string): Promise<{ order: Order; fingerprint: string } | null>;
  /** The order as stored, for views. */
  get(id: string): Promise<Order | null>;
  list(filter: { userId?: string; status?: string }, page: number, pageSize: number): Promise<{ items: Order[]; count: number }>;
}
