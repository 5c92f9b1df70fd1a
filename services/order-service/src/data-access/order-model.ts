import { Schema, type Connection } from 'mongoose';
import { bumpVersion, dropIndexIfPresent, hasIndex, writeIfCurrent } from '@pay/db';
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
  /**
   * The client's Idempotency-Key, or `none:<id>` without one; unique together with `user_id` (the user
   * is its own field: joined into one string, `alice` + `shop:K1` and `alice:shop` + `K1` would collide).
   */
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

/** The unique (user_id, idempotency_key) index. */
export const IDEMPOTENCY_INDEX = 'user_id_1_idempotency_key_1';
/** The index of the earlier `<user>:<key>` values: unique on the key alone, so it must go. */
export const LEGACY_IDEMPOTENCY_INDEX = 'idempotency_key_1';

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
    idempotency_key: { type: String, required: true },
    request_fingerprint: { type: String, default: null },
    ...outboxSchemaFields,
  },
  { collection: 'orders', versionKey: false, minimize: false },
);
orderSchema.index({ user_id: 1, created_at: -1 });
// Always set (FerretDB has no partial indexes): an order placed without a key holds `none:<its id>`.
orderSchema.index({ user_id: 1, idempotency_key: 1 }, { unique: true, name: IDEMPOTENCY_INDEX });

export function orderModel(connection: Connection) {
  return connection.model<OrderDocument>('Order', orderSchema);
}
export type OrderModel = ReturnType<typeof orderModel>;

/**
 * Orders stored before idempotency keys existed lack the field; two of them would collide (null) under
 * the unique index, so they get their `none:<id>` value before the indexes are created. One document at
 * a time: FerretDB has no pipeline updates to compute it in one statement. Only while that index does not
 * exist: it is created after this ran to the end, and every order since is stored with its key, so once
 * it exists there is nothing to find (the `$exists` query reads every order on FerretDB, at every start).
 */
export async function backfillIdempotencyKeys(model: OrderModel): Promise<number> {
  if (await hasIndex(model.collection, IDEMPOTENCY_INDEX)) return 0;
  const legacy = await model.collection.find({ idempotency_key: { $exists: false } }, { projection: { _id: 1 } }).toArray();
  for (const { _id } of legacy) {
    await model.collection.updateOne({ _id, idempotency_key: { $exists: false } }, { $set: { idempotency_key: `none:${String(_id)}`, request_fingerprint: null } });
  }
  return legacy.length;
}

/**
 * Orders stored while the key was `<user>:<Idempotency-Key>` under a unique index of its own: their
 * values lose the user prefix (the user is `user_id`), then that index is dropped, so the same key of two
 * users no longer collides. Runs before the indexes are created, and only while the old index exists
 * (rewriting first and dropping last, so a start that stops half-way does it again on the next start).
 * Only orders placed with a key are touched (theirs carry a request fingerprint; `none:<id>` does not).
 */
export async function migrateIdempotencyKeys(model: OrderModel): Promise<number> {
  if (!(await hasIndex(model.collection, LEGACY_IDEMPOTENCY_INDEX))) return 0; // no collection yet: nothing to migrate
  const keyed = await model.collection
    .find({ request_fingerprint: { $ne: null } }, { projection: { _id: 1, user_id: 1, idempotency_key: 1 } })
    .toArray();
  let rewritten = 0;
  for (const { _id } of keyed) {
    for (let attempt = 1; ; attempt++) {
      const current = await model.collection.findOne({ _id }, { projection: { user_id: 1, idempotency_key: 1, version: 1, idempotency_key_migrated: 1 } });
      const prefix = `${String(current?.user_id)}:`;
      // Marked in the same write: another replica migrating at the same time (or a key that itself starts
      // with "<user>:") must not lose a second prefix.
      if (!current || current.idempotency_key_migrated === true) break;
      if (typeof current.idempotency_key !== 'string' || !current.idempotency_key.startsWith(prefix)) break;
      // A versioned write: the relay of another replica may be writing the same order.
      const written = await writeIfCurrent(`orders/${String(_id)}`, () =>
        model.collection.updateOne(
          { _id, version: current.version, idempotency_key: current.idempotency_key },
          bumpVersion({ $set: { idempotency_key: current.idempotency_key.slice(prefix.length), idempotency_key_migrated: true } }),
        ),
      );
      if (written?.modifiedCount === 1) {
        rewritten++;
        break;
      }
      if (attempt >= 8) throw new Error(`could not migrate the idempotency key of order ${String(_id)}: it kept changing`);
    }
  }
  // Two replicas starting together both get here: the one that drops second finds the index gone.
  await dropIndexIfPresent(model.collection, LEGACY_IDEMPOTENCY_INDEX);
  return rewritten;
}
