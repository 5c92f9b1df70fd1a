import { Schema, type Connection } from 'mongoose';
import { outboxSchemaFields, type OutboxFields } from '@pay/outbox';
import { ORDER_STATUSES, type OrderHistoryEntry, type OrderStatus } from '../domain/order';

export interface OrderItemDocument {
  product_id: string;
  name: string;
  unit_price_minor: number;
  quantity: number;
}

export interface OrderDocument extends OutboxFields {
  _id: string;
  order_number: string;
  user_id: string;
  items: OrderItemDocument[];
  total_amount_minor: number;
  currency: string;
  status: OrderStatus;
  payment_id: string | null;
  /** Absent on orders stored before refunds existed (read as 0). */
  refunded_minor?: number;
  created_at: Date;
  updated_at: Date;
  history: OrderHistoryEntry[];
  /** `<user>:<Idempotency-Key>`, or `none:<id>` without one (unique). */
  idempotency_key: string;
  request_fingerprint: string | null;
}

const itemSchema = new Schema<OrderItemDocument>(
  {
    product_id: { type: String, required: true },
    name: { type: String, required: true },
    unit_price_minor: { type: Number, required: true, min: 0 },
    quantity: { type: Number, required: true, min: 1 },
  },
  { _id: false },
);

const historySchema = new Schema<OrderHistoryEntry>(
  { at: Date, from: { type: String, default: null }, to: String, actor: String, detail: { type: String, default: null } },
  { _id: false },
);

const orderSchema = new Schema<OrderDocument>(
  {
    _id: { type: String },
    order_number: { type: String, required: true, unique: true },
    user_id: { type: String, required: true },
    items: { type: [itemSchema], required: true },
    total_amount_minor: { type: Number, required: true, min: 0 },
    currency: { type: String, required: true },
    status: { type: String, enum: ORDER_STATUSES, required: true },
    payment_id: { type: String, default: null },
    refunded_minor: { type: Number, default: 0, min: 0 },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
    history: { type: [historySchema], default: [] },
    idempotency_key: { type: String, required: true, unique: true },
    request_fingerprint: { type: String, default: null },
    ...outboxSchemaFields,
  },
  { collection: 'orders', versionKey: false, minimize: false },
);
orderSchema.index({ user_id: 1, created_at: -1 });

export function orderModel(connection: Connection) {
  return connection.model<OrderDocument>('Order', orderSchema);
}
export type OrderModel = ReturnType<typeof orderModel>;

/**
 * Orders stored before idempotency keys existed lack the field; two of them would collide (null) under
 * the unique index, so they get their `none:<id>` value before the indexes are created. One document at
 * a time: FerretDB has no pipeline updates to compute it in one statement.
 */
export async function backfillIdempotencyKeys(model: OrderModel): Promise<number> {
  const legacy = await model.collection.find({ idempotency_key: { $exists: false } }, { projection: { _id: 1 } }).toArray();
  for (const { _id } of legacy) {
    await model.collection.updateOne({ _id, idempotency_key: { $exists: false } }, { $set: { idempotency_key: `none:${String(_id)}`, request_fingerprint: null } });
  }
  return legacy.length;
}
