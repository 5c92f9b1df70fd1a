import type { EventEnvelope } from '@pay/contracts';
import { OrderAggregate, type Order } from '../../src/domain/order';
import type { OrderStore } from '../../src/domain/order-store';
import { DuplicateOrder } from '../../src/domain/order-use-cases';

/**
 * The OrderStore port in memory, for fast use-case tests: the same contract as the repository (versioned
 * saves that refuse a stale version, one order per user and idempotency key), and the events each write stored.
 */
export class InMemoryOrderStore implements OrderStore {
  private readonly rows = new Map<string, { state: Order; version: number; key: string; fingerprint: string | null }>();
  readonly events: EventEnvelope[] = [];

  async insert(order: OrderAggregate, request: { key: string; fingerprint: string } | null = null): Promise<void> {
    await Promise.resolve();
    const key = request?.key ?? `none:${order.id}`;
    const taken = (row: { state: Order; key: string }) =>
      (row.state.userId === order.state.userId && row.key === key) || row.state.orderNumber === order.state.orderNumber;
    if ([...this.rows.values()].some(taken)) throw new DuplicateOrder();
    this.rows.set(order.id, { state: structuredClone(order.state), version: 1, key, fingerprint: request?.fingerprint ?? null });
    this.events.push(...order.newEvents);
  }

  async findByIdempotencyKey(userId: string, key: string): Promise<{ order: Order; fingerprint: string } | null> {
    await Promise.resolve();
    const row = [...this.rows.values()].find((candidate) => candidate.state.userId === userId && candidate.key === key);
    return row ? { order: structuredClone(row.state), fingerprint: row.fingerprint ?? '' } : null;
  }

  async load(id: string): Promise<OrderAggregate | null> {
    await Promise.resolve();
    const row = this.rows.get(id);
    return row ? OrderAggregate.rehydrate(structuredClone(row.state), row.version) : null;
  }

  async save(order: OrderAggregate): Promise<OrderAggregate | null> {
    await Promise.resolve();
    const row = this.rows.get(order.id);
    if (!row || row.version !== order.version) return null;
    const stored = { ...row, state: structuredClone(order.state), version: row.version + 1 };
    this.rows.set(order.id, stored);
    this.events.push(...order.newEvents);
    return OrderAggregate.rehydrate(structuredClone(stored.state), stored.version);
  }

  async get(id: string): Promise<Order | null> {
    await Promise.resolve();
    const row = this.rows.get(id);
    return row ? structuredClone(row.state) : null;
  }

  async list(filter: { userId?: string; status?: string }, page: number, pageSize: number): Promise<{ items: Order[]; count: number }> {
    await Promise.resolve();
    const all = [...this.rows.values()]
      .map((row) => row.state)
      .filter((order) => (!filter.userId || order.userId === filter.userId) && (!filter.status || order.status === filter.status));
    return { items: all.slice((page - 1) * pageSize, page * pageSize).map((order) => structuredClone(order)), count: all.length };
  }
}
