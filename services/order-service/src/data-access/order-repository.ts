import { findPage, isDuplicateKeyError } from '@pay/db';
import { AggregateCollection, type OutboxRelay, type Versioned } from '@pay/outbox';
import { OrderAggregate, type Order } from '../domain/order';
import type { OrderStore } from '../domain/order-store';
import { DuplicateOrder } from '../domain/order-use-cases';
import type { OrderDocument, OrderModel } from './order-model';

type StoredOrder = Omit<OrderDocument, 'version' | 'outbox' | 'outbox_pending' | 'outbox_lease_until' | 'outbox_lease_owner'>;

/** The only place that talks to the orders collection. */
export class OrderRepository implements OrderStore {
  private readonly documents: AggregateCollection<StoredOrder>;

  constructor(
    private readonly model: OrderModel,
    relay: OutboxRelay,
  ) {
    this.documents = new AggregateCollection<StoredOrder>(model as never, relay);
  }

  async insert(order: OrderAggregate, request: { key: string; fingerprint: string } | null = null): Promise<void> {
    // Always a value: FerretDB has no partial/sparse unique indexes, so "no key" is the order's own id.
    // Unique together with user_id (the document's own field), never joined with it into one string.
    const idempotency = { idempotency_key: request?.key ?? `none:${order.id}`, request_fingerprint: request?.fingerprint ?? null };
    try {
      await this.documents.insert({ ...stateOf(order.state), ...idempotency }, order.newEvents);
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new DuplicateOrder();
      throw error;
    }
  }

  async findByIdempotencyKey(userId: string, key: string): Promise<{ order: Order; fingerprint: string } | null> {
    const document = await this.model.findOne({ user_id: userId, idempotency_key: key }, { outbox: 0 }).lean<OrderDocument>();
    return document ? { order: toOrder(document), fingerprint: document.request_fingerprint ?? '' } : null;
  }

  async load(id: string): Promise<OrderAggregate | null> {
    const document = await this.documents.load(id);
    return document ? OrderAggregate.rehydrate(toOrder(document), document.version) : null;
  }

  async save(order: OrderAggregate): Promise<OrderAggregate | null> {
    const { _id: _, ...set } = stateOf(order.state);
    const stored = await this.documents.save(order.id, order.version, set, order.newEvents);
    return stored ? OrderAggregate.rehydrate(toOrder(stored), stored.version) : null;
  }

  async get(id: string): Promise<Order | null> {
    const document = await this.documents.load(id);
    return document ? toOrder(document) : null;
  }

  async list(filter: { userId?: string; status?: string }, page: number, pageSize: number): Promise<{ items: Order[]; count: number }> {
    const query: Record<string, string> = {};
    if (filter.userId) query.user_id = filter.userId;
    if (filter.status) query.status = filter.status;
    const { documents, count } = await findPage<OrderDocument>(this.model, query, page, pageSize);
    return { items: documents.map(toOrder), count };
  }
}

/** The order's own fields (the idempotency fields are written once, at insert). */
function stateOf(order: Order): Omit<StoredOrder, 'idempotency_key' | 'request_fingerprint'> {
  return {
    _id: order.id,
    order_number: order.orderNumber,
    user_id: order.userId,
    items: order.items.map((item) => ({ product_id: item.productId, name: item.name, unit_price_minor: item.unitPriceMinor, quantity: item.quantity })),
    total_amount_minor: order.totalAmountMinor,
    currency: order.currency,
    status: order.status,
    payment_id: order.paymentId,
    refunded_minor: order.refundedMinor,
    created_at: order.createdAt,
    updated_at: order.updatedAt,
    history: order.history,
  };
}

function toOrder(document: Versioned<StoredOrder> | StoredOrder): Order {
  return {
    id: document._id,
    orderNumber: document.order_number,
    userId: document.user_id,
    items: document.items.map((item) => ({ productId: item.product_id, name: item.name, unitPriceMinor: item.unit_price_minor, quantity: item.quantity })),
    totalAmountMinor: document.total_amount_minor,
    currency: document.currency,
    status: document.status,
    paymentId: document.payment_id ?? null,
    refundedMinor: document.refunded_minor ?? 0,
    createdAt: new Date(document.created_at),
    updatedAt: new Date(document.updated_at),
    history: (document.history ?? []).map((entry) => ({ ...entry, at: new Date(entry.at), from: entry.from ?? null, detail: entry.detail ?? null })),
  };
}
