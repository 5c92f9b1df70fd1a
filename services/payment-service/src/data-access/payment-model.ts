import { Schema, type Connection } from 'mongoose';
import { bumpVersion, dropIndexIfPresent, hasIndex, writeIfCurrent } from '@pay/db';
import { outboxSchemaFields, type OutboxFields } from '@pay/outbox';
import { PAYMENT_METHODS, PAYMENT_STATUSES, type PaymentLogEntry, type PaymentMethod, type PaymentStatus } from '../domain/payment';

/** A refund as stored inside its payment (see domain/refund.ts). */
export interface RefundDocument {
  id: string;
  amount_minor: number;
  reason: string;
  status: string;
  provider_refund_id: string | null;
  actor: string;
  idempotency_key: string | null;
  request_fingerprint: string | null;
  next_query_at: Date | null;
  query_attempts: number;
  created_at: Date;
  updated_at: Date;
  logs: { at: Date; event: string; from: string | null; to: string; actor: string; detail: string | null }[];
}

export interface DuplicateTransactionDocument {
  transaction_id: string;
  provider: string | null;
  amount_minor: number;
  at: Date;
}

/** The provider order as stored (snake_case, pay_params as the provider's client needs them). */
export interface ProviderOrderDocument {
  provider: string;
  channel: string;
  pay_params: Record<string, string>;
  provider_order_id: string | null;
  opened_at: Date;
}

export interface PaymentDocument extends OutboxFields {
  _id: string;
  order_id: string;
  user_id: string;
  amount_minor: number;
  currency: string;
  method: PaymentMethod;
  status: PaymentStatus;
  /** Unique: the order id while live, `closed:<id>` after (one live payment per order). */
  live_key: string;
  transaction_id: string | null;
  provider: string | null;
  late_success: boolean;
  provider_order: ProviderOrderDocument | null;
  next_query_at: Date | null;
  query_attempts: number;
  refunds: RefundDocument[];
  duplicate_transactions: DuplicateTransactionDocument[];
  /** The earliest time a refund of this payment is to be asked about (null: none pending): the refund job's query. */
  refunds_due_at: Date | null;
  /**
   * `refunds_due_at` is set. The refund job's query leads with this equality: FerretDB v1 pushes only
   * equalities down to PostgreSQL, so a query on the date alone read and decoded every payment ever stored.
   */
  refunds_pending: boolean;
  expires_at: Date;
  created_at: Date;
  updated_at: Date;
  logs: PaymentLogEntry[];
}

const logSchema = new Schema<PaymentLogEntry>(
  {
    at: { type: Date, required: true },
    event: { type: String, required: true },
    from: { type: String, default: null },
    to: { type: String, required: true },
    actor: { type: String, required: true },
    detail: { type: String, default: null },
  },
  { _id: false },
);

const paymentSchema = new Schema<PaymentDocument>(
  {
    _id: { type: String },
    order_id: { type: String, required: true, index: true },
    user_id: { type: String, required: true },
    amount_minor: { type: Number, required: true, min: 0 },
    currency: { type: String, required: true },
    method: { type: String, enum: PAYMENT_METHODS, required: true, default: 'wechat' },
    status: { type: String, enum: PAYMENT_STATUSES, required: true, default: 'init' },
    live_key: { type: String, required: true, unique: true },
    transaction_id: { type: String, default: null },
    provider: { type: String, default: null },
    late_success: { type: Boolean, default: false },
    // Mixed: its shape is the domain's (validated there); mongoose must not read `provider` etc. as types.
    provider_order: { type: Schema.Types.Mixed, default: null },
    next_query_at: { type: Date, default: null },
    query_attempts: { type: Number, default: 0 },
    // Mixed for the same reason: the domain owns these shapes (refund.ts, payment.ts).
    refunds: { type: Schema.Types.Mixed, default: [] },
    duplicate_transactions: { type: Schema.Types.Mixed, default: [] },
    refunds_due_at: { type: Date, default: null },
    refunds_pending: { type: Boolean, default: false },
    expires_at: { type: Date, required: true },
    created_at: { type: Date, required: true },
    updated_at: { type: Date, required: true },
    logs: { type: [logSchema], default: [] },
    ...outboxSchemaFields,
  },
  { collection: 'payments', versionKey: false, minimize: false },
);
paymentSchema.index({ user_id: 1, created_at: -1 });
// Each job's query leads with an equality (FerretDB v1 pushes only those down; see refunds_pending).
paymentSchema.index({ status: 1, expires_at: 1 }); // the expiry sweeper's query, one open status at a time
paymentSchema.index({ status: 1, next_query_at: 1 }); // the provider query job's
paymentSchema.index({ refunds_pending: 1, refunds_due_at: 1 }); // the refund query job's

export function paymentModel(connection: Connection) {
  return connection.model<PaymentDocument>('Payment', paymentSchema);
}
export type PaymentModel = ReturnType<typeof paymentModel>;

/** The refund job's index before `refunds_pending`: its presence marks a database stored before the field. */
export const LEGACY_REFUNDS_DUE_INDEX = 'refunds_due_at_1';

/**
 * Payments stored before `refunds_pending` existed lack it: those with a refund due get it, or the refund
 * job (which asks for `refunds_pending: true`) would never come back to them. Runs only while the old
 * index exists and drops it last, so it reads the payments once (a start that stops half-way does it
 * again). A versioned write per payment; one written meanwhile (by this code, which always writes the
 * field) is left as it is.
 */
export async function backfillRefundsPending(model: PaymentModel): Promise<number> {
  if (!(await hasIndex(model.collection, LEGACY_REFUNDS_DUE_INDEX))) return 0; // no collection yet: nothing stored before
  const legacy = await model.collection
    .find({ refunds_pending: { $exists: false }, refunds_due_at: { $ne: null } }, { projection: { _id: 1, version: 1 } })
    .toArray();
  let marked = 0;
  for (const { _id, version } of legacy) {
    const written = await writeIfCurrent(`payments/${String(_id)}`, () =>
      model.collection.updateOne({ _id, version, refunds_pending: { $exists: false } }, bumpVersion({ $set: { refunds_pending: true } })),
    );
    if (written && written.modifiedCount > 0) marked += 1;
  }
  await dropIndexIfPresent(model.collection, LEGACY_REFUNDS_DUE_INDEX);
  return marked;
}
