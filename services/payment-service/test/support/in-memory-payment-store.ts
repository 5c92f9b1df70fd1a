import type { EventEnvelope } from '@pay/contracts';
import { Arrivals } from '@pay/arrivals';
import type { KnownOrder, KnownOrders } from '../../src/domain/known-orders';
import { OPEN_STATUSES, PaymentAggregate, liveKeyFor, type Payment } from '../../src/domain/payment';
import type { PaymentStore } from '../../src/domain/payment-store';
import { LivePaymentExists } from '../../src/data-access/payment-repository';

/**
 * The PaymentStore port in memory, for fast use-case tests: the same contract as the repository
 * (versioned saves that refuse a stale version, one live payment per order), and the events each
 * write stored, in order.
 */
export class InMemoryPaymentStore implements PaymentStore {
  private readonly rows = new Map<string, { state: Payment; version: number }>();
  private readonly liveKeys = new Map<string, string>();
  readonly events: EventEnvelope[] = [];

  async insert(payment: PaymentAggregate): Promise<void> {
    await Promise.resolve();
    const key = liveKeyFor(payment.state, payment.status);
    if (this.liveKeys.has(key)) throw new LivePaymentExists(payment.state.orderId);
    this.liveKeys.set(key, payment.id);
    this.rows.set(payment.id, { state: structuredClone(payment.state), version: 1 });
    this.events.push(...payment.newEvents);
  }

  async load(id: string): Promise<PaymentAggregate | null> {
    await Promise.resolve();
    const row = this.rows.get(id);
    return row ? PaymentAggregate.rehydrate(structuredClone(row.state), row.version) : null;
  }

  async save(payment: PaymentAggregate): Promise<PaymentAggregate | null> {
    await Promise.resolve();
    const row = this.rows.get(payment.id);
    if (!row || row.version !== payment.version) return null;
    this.liveKeys.delete(liveKeyFor(row.state, row.state.status));
    this.liveKeys.set(liveKeyFor(payment.state, payment.status), payment.id);
    const stored = { state: structuredClone(payment.state), version: row.version + 1 };
    this.rows.set(payment.id, stored);
    this.events.push(...payment.newEvents);
    return PaymentAggregate.rehydrate(structuredClone(stored.state), stored.version);
  }

  async get(id: string): Promise<Payment | null> {
    await Promise.resolve();
    const row = this.rows.get(id);
    return row ? structuredClone(row.state) : null;
  }

  async openForOrder(orderId: string): Promise<Payment[]> {
    return [...this.rows.values()].filter((row) => row.state.orderId === orderId && OPEN_STATUSES.includes(row.state.status)).map((row) => structuredClone(row.state));
  }

  async overdue(now: Date, limit: number): Promise<Payment[]> {
    return [...this.rows.values()]
      .filter((row) => OPEN_STATUSES.includes(row.state.status) && row.state.expiresAt.getTime() <= now.getTime())
      .slice(0, limit)
      .map((row) => structuredClone(row.state));
  }

  async dueForQuery(now: Date, limit: number): Promise<Payment[]> {
    await Promise.resolve();
    return [...this.rows.values()]
      .filter((row) => row.state.status === 'processing' && row.state.nextQueryAt !== null && row.state.nextQueryAt.getTime() <= now.getTime())
      .sort((a, b) => a.state.nextQueryAt!.getTime() - b.state.nextQueryAt!.getTime())
      .slice(0, limit)
      .map((row) => structuredClone(row.state));
  }

  async refundsDue(now: Date, limit: number): Promise<Payment[]> {
    await Promise.resolve();
    const dueAt = (payment: Payment) =>
      Math.min(...payment.refunds.filter((r) => r.nextQueryAt && (r.status === 'pending' || r.status === 'needs_attention')).map((r) => r.nextQueryAt!.getTime()));
    return [...this.rows.values()]
      .filter((row) => dueAt(row.state) <= now.getTime())
      .sort((a, b) => dueAt(a.state) - dueAt(b.state))
      .slice(0, limit)
      .map((row) => structuredClone(row.state));
  }

  async list(filter: { userId?: string; orderId?: string }, page: number, pageSize: number): Promise<{ items: Payment[]; count: number }> {
    const all = [...this.rows.values()]
      .map((row) => row.state)
      .filter((payment) => (!filter.userId || payment.userId === filter.userId) && (!filter.orderId || payment.orderId === filter.orderId));
    return { items: all.slice((page - 1) * pageSize, page * pageSize).map((payment) => structuredClone(payment)), count: all.length };
  }

  /** Moves a stored payment's deadline (arranging an overdue payment). */
  setExpiresAt(id: string, expiresAt: Date): void {
    const row = this.rows.get(id)!;
    row.state = { ...row.state, expiresAt };
  }
}

export class InMemoryKnownOrders implements KnownOrders {
  private readonly orders = new Map<string, Partial<KnownOrder> & { status: KnownOrder['status'] }>();
  private readonly arrivals = new Arrivals();

  async get(orderId: string): Promise<KnownOrder | null> {
    await Promise.resolve();
    const order = this.orders.get(orderId);
    return order && order.userId !== undefined ? ({ ...order } as KnownOrder) : null;
  }

  async recordCreated(order: Omit<KnownOrder, 'status'>): Promise<void> {
    await Promise.resolve();
    this.orders.set(order.id, { ...order, status: this.orders.get(order.id)?.status ?? 'pending_payment' });
    this.arrivals.announce(order.id);
  }

  async recordCancelled(orderId: string): Promise<void> {
    await Promise.resolve();
    this.orders.set(orderId, { ...this.orders.get(orderId), id: orderId, status: 'cancelled' });
  }

  nextRecorded(orderId: string, maxMs: number, signal: AbortSignal): Promise<void> {
    return this.arrivals.next(orderId, maxMs, signal);
  }
}
