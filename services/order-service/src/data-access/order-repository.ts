import type { EventEnvelope } from '@pay/contracts';
import { DocumentLocks, findPage, isDuplicateKeyError } from '@pay/db';
import { enqueueEvents, initialOutbox } from '@pay/outbox';
import type { Order, OrderChange } from '../domain/order';
import type { OrderStore } from '../domain/order-store';
import { DuplicateOrder } from '../domain/order-use-cases';
import type { OrderDocument, OrderModel } from './order-model';

/** The only place that talks to the orders collection. */
export class OrderRepository implements OrderStore {
  constructor(
    private readonly model: OrderModel,
    private readonly locks: DocumentLocks = new DocumentLocks(),
    private readonly onWrite: () => void = () => undefined,
  ) {}

  exclusive<T>(id: string, work: () => Promise<T>): Promise<T> {
    return this.locks.run(`${this.model.collection.collectionName}/${id}`, work);
  }

  async insert(order: Order, events: EventEnvelope[], request: { key: string; fingerprint: string } | null = null): Promise<void> {
    // Always a value: FerretDB has no partial/sparse unique indexes, so "no key" is the order's own id.
    const idempotency = { idempotency_key: request?.key ?? `none:${order.id}`, request_fingerprint: request?.fingerprint ?? null };
    try {
      await this.model.collection.insertOne({ ...toDocument(order), ...idempotency, ...initialOutbox(events) } as never);
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new DuplicateOrder();
      throw error;
    }
    this.onWrite();
  }

  async findByIdempotencyKey(key: string): Promise<{ order: Order; fingerprint: string } | null> {
    const document = await this.model.findOne({ idempotency_key: key }, { outbox: 0 }).lean<OrderDocument>();
    return document ? { order: toOrder(document), fingerprint: document.request_fingerprint ?? '' } : null;
  }

  async get(id: string): Promise<Order | null> {
    const document = await this.model.findById(id, { outbox: 0 }).lean<OrderDocument>();
    return document ? toOrder(document) : null;
  }

  async apply(order: Order, change: OrderChange, events: (after: Order) => EventEnvelope[]): Promise<Order | null> {
    const now = new Date();
    const after: Order = {
      ...order,
      status: change.to,
      paymentId: change.paymentId ?? order.paymentId,
      updatedAt: now,
      history: [...order.history, change.entry],
    };
    const set: Record<string, unknown> = { status: change.to, updated_at: now, ...enqueueEvents(events(after)) };
    if (change.paymentId) set.payment_id = change.paymentId;
    const document = await this.model.collection.findOneAndUpdate(
      { _id: order.id as never, status: change.from },
      { $set: set, $push: { history: change.entry } as never },
      { returnDocument: 'after' }, // no projection: FerretDB v1's findAndModify does not support `fields`
    );
    if (!document) return null;
    this.onWrite();
    return toOrder(document as unknown as OrderDocument);
  }

  async list(filter: { userId?: string; status?: string }, page: number, pageSize: number): Promise<{ items: Order[]; count: number }> {
    const query: Record<string, string> = {};
    if (filter.userId) query.user_id = filter.userId;
    if (filter.status) query.status = filter.status;
    const { documents, count } = await findPage<OrderDocument>(this.model, query, page, pageSize);
    return { items: documents.map(toOrder), count };
  }
}

function toDocument(order: Order): Omit<OrderDocument, 'outbox' | 'outbox_pending' | 'idempotency_key' | 'request_fingerprint'> {
  return {
    _id: order.id,
    order_number: order.orderNumber,
    user_id: order.userId,
    items: order.items.map((item) => ({ product_id: item.productId, name: item.name, unit_price_minor: item.unitPriceMinor, quantity: item.quantity })),
    total_amount_minor: order.totalAmountMinor,
    currency: order.currency,
    status: order.status,
    payment_id: order.paymentId,
    created_at: order.createdAt,
    updated_at: order.updatedAt,
    history: order.history,
  };
}

function toOrder(document: OrderDocument): Order {
  return {
    id: document._id,
    orderNumber: document.order_number,
    userId: document.user_id,
    items: document.items.map((item) => ({ productId: item.product_id, name: item.name, unitPriceMinor: item.unit_price_minor, quantity: item.quantity })),
    totalAmountMinor: document.total_amount_minor,
    currency: document.currency,
    status: document.status,
    paymentId: document.payment_id ?? null,
    createdAt: new Date(document.created_at),
    updatedAt: new Date(document.updated_at),
    history: (document.history ?? []).map((entry) => ({ ...entry, at: new Date(entry.at), from: entry.from ?? null, detail: entry.detail ?? null })),
  };
}
