import { Schema, type Connection } from 'mongoose';
import { Arrivals, DocumentLocks } from '@pay/db';
import type { KnownOrder, KnownOrders } from '../domain/known-orders';

interface KnownOrderDocument {
  _id: string;
  order_number: string | null;
  user_id: string | null;
  amount_minor: number | null;
  currency: string | null;
  status: KnownOrder['status'];
}

const schema = new Schema<KnownOrderDocument>(
  {
    _id: { type: String },
    order_number: { type: String, default: null },
    user_id: { type: String, default: null },
    amount_minor: { type: Number, default: null },
    currency: { type: String, default: null },
    status: { type: String, required: true },
  },
  { collection: 'known_orders', versionKey: false },
);

/** The payment service's projection of orders from order events (idempotent, order-insensitive). */
export class KnownOrdersRepository implements KnownOrders {
  private readonly model;
  /** "Order X recorded", for creates waiting on an order.created still in flight. */
  private readonly arrivals = new Arrivals();

  constructor(
    connection: Connection,
    private readonly locks: DocumentLocks = new DocumentLocks(),
  ) {
    this.model = connection.model<KnownOrderDocument>('KnownOrder', schema);
  }

  async get(orderId: string): Promise<KnownOrder | null> {
    const document = await this.model.findById(orderId).lean<KnownOrderDocument>();
    // A cancellation may arrive before the creation: such an order is not usable yet.
    if (!document || document.user_id === null || document.amount_minor === null) return null;
    return {
      id: document._id,
      orderNumber: document.order_number ?? '',
      userId: document.user_id,
      amountMinor: document.amount_minor,
      currency: document.currency ?? 'CNY',
      status: document.status,
    };
  }

  async recordCreated(order: Omit<KnownOrder, 'status'>): Promise<void> {
    await this.locks.run(`known_orders/${order.id}`, () => this.model.collection.updateOne(
      { _id: order.id as never },
      {
        $set: { order_number: order.orderNumber, user_id: order.userId, amount_minor: order.amountMinor, currency: order.currency },
        $setOnInsert: { status: 'pending_payment' },
      },
      { upsert: true },
    ));
    this.arrivals.announce(order.id);
  }

  async nextRecorded(orderId: string, maxMs: number, signal: AbortSignal): Promise<void> {
    await this.arrivals.next(orderId, maxMs, signal);
  }

  async recordCancelled(orderId: string): Promise<void> {
    await this.locks.run(`known_orders/${orderId}`, () =>
      this.model.collection.updateOne({ _id: orderId as never }, { $set: { status: 'cancelled' } }, { upsert: true }),
    );
  }
}
