import { Schema, type Connection } from 'mongoose';
import { Arrivals } from '@pay/arrivals';
import { bumpVersion, writeWithRetry } from '@pay/db';
import type { KnownOrder, KnownOrders } from '../domain/known-orders';

interface KnownOrderDocument {
  _id: string;
  order_number: string | null;
  user_id: string | null;
  amount_minor: number | null;
  currency: string | null;
  status: KnownOrder['status'];
  version: number;
}

const schema = new Schema<KnownOrderDocument>(
  {
    _id: { type: String },
    order_number: { type: String, default: null },
    user_id: { type: String, default: null },
    amount_minor: { type: Number, default: null },
    currency: { type: String, default: null },
    status: { type: String, required: true },
    version: { type: Number, default: 1 },
  },
  { collection: 'known_orders', versionKey: false },
);

/**
 * The payment service's projection of orders from order events (idempotent, order-insensitive). Two
 * events of one order may be applied by two replicas at once (order.created and order.cancelled): every
 * write bumps the version, so the database refuses the one decided on a stale read (an upsert race is a
 * duplicate key) and it is run again, instead of overwriting the other's field.
 */
export class KnownOrdersRepository implements KnownOrders {
  private readonly model;
  /** "Order X recorded", for creates waiting on an order.created still in flight. */
  private readonly arrivals = new Arrivals();

  constructor(connection: Connection) {
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
    await this.upsert(order.id, {
      $set: { order_number: order.orderNumber, user_id: order.userId, amount_minor: order.amountMinor, currency: order.currency },
      $setOnInsert: { status: 'pending_payment' },
    });
    this.arrivals.announce(order.id);
  }

  async nextRecorded(orderId: string, maxMs: number, signal: AbortSignal): Promise<void> {
    await this.arrivals.next(orderId, maxMs, signal);
  }

  async recordCancelled(orderId: string): Promise<void> {
    await this.upsert(orderId, { $set: { status: 'cancelled' } });
  }

  private async upsert(orderId: string, update: Record<string, unknown>): Promise<void> {
    await writeWithRetry(`known_orders/${orderId}`, () => this.model.collection.updateOne({ _id: orderId as never }, bumpVersion(update), { upsert: true }), {
      upsert: true,
    });
  }
}
