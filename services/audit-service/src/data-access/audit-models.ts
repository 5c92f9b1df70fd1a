import { Schema, type Connection } from 'mongoose';
import type { DayStats } from '../domain/daily-stats';
import type { AuditRecord, ChainTip, SignedTip } from '../domain/hash-chain';
import type { ReconciliationRow } from '../domain/reconciliation';

/**
 * The audit database. Records are written with the raw driver (never through mongoose casting or
 * defaults: the stored content must be exactly what was hashed). Indexes are declared for MongoDB,
 * where they make the queries fast; FerretDB v1 still scans but enforces the unique ones.
 *
 * Records are insert-only. The other collections hold shared mutable documents that every replica
 * updates; each carries `version`, bumped by every write (see ./guarded-upsert.ts). Documents written
 * before the field existed get it from their first such write.
 */
const recordSchema = new Schema<AuditRecord & { block?: number }>(
  {
    _id: { type: String },
    seq: { type: Number, required: true, unique: true },
    prev_hash: { type: String, required: true },
    hash: { type: String, required: true },
    action: { type: String, required: true },
    event_type: { type: String, required: true },
    occurred_at: { type: Date, required: true },
    recorded_at: { type: Date, required: true },
    day: { type: String, required: true },
    payment_id: { type: String, default: null },
    order_id: { type: String, default: null },
    user_id: { type: String, default: null },
    amount_minor: { type: Number, default: null },
    currency: { type: String, default: null },
    transaction_id: { type: String, default: null },
    provider: { type: String, default: null },
    reason: { type: String, default: null },
    error: { type: String, default: null },
    verify_ms: { type: Number, default: null },
    correlation_id: { type: String, required: true },
    causation_id: { type: String, default: null },
    producer: { type: String, required: true },
    data: { type: Schema.Types.Mixed, required: true },
    /** ⌊seq / 500⌋, not hashed: how a walk reads records a block at a time (./seq-lookups.ts). Absent on older records. */
    block: { type: Number },
  },
  { collection: 'audit_records', versionKey: false, minimize: false, suppressReservedKeysWarning: true },
);
recordSchema.index({ occurred_at: -1, seq: -1 }); // the event list, newest first
recordSchema.index({ payment_id: 1, occurred_at: -1 });
recordSchema.index({ order_id: 1, occurred_at: -1 });
recordSchema.index({ action: 1, occurred_at: -1 });
recordSchema.index({ day: 1, action: 1 }); // a day's callback response times
recordSchema.index({ block: 1 }); // chain walks read a block of consecutive records at once

/** The `_id` of the one chain head document. */
export const CHAIN_HEAD_ID = 'head';

/** The chain head; `mac` (../domain/hash-chain.ts `headMac`) is rewritten with `seq` and `hash` by every advance. */
export interface ChainHeadDocument extends SignedTip {
  _id: string;
  version?: number;
}

const chainHeadSchema = new Schema<ChainHeadDocument>(
  {
    _id: { type: String },
    seq: { type: Number, required: true },
    hash: { type: String, required: true },
    mac: { type: String },
    version: { type: Number },
  },
  { collection: 'chain_head', versionKey: false },
);

/** The `_id` of the one document holding the last anchor this service published. */
export const LAST_ANCHOR_ID = 'last';

/**
 * The last anchor published with a broker confirm (the highest seq: replicas publishing at once only move
 * it forward), printed in every daily report. A copy for the reports: the anchors that count are the
 * ones kept outside this database.
 */
export interface PublishedAnchorDocument extends ChainTip {
  _id: string;
  mac: string;
  anchored_at: Date;
  version?: number;
}

const publishedAnchorSchema = new Schema<PublishedAnchorDocument>(
  {
    _id: { type: String },
    seq: { type: Number, required: true },
    hash: { type: String, required: true },
    mac: { type: String, required: true },
    anchored_at: { type: Date, required: true },
    version: { type: Number },
  },
  { collection: 'published_anchors', versionKey: false },
);

/**
 * A verified point of the chain (see ../domain/hash-chain.ts `checkpointMac`): `_id` = `seq`, insert-only,
 * so two replicas storing the same checkpoint collide on `_id` and one insert is simply refused.
 */
export interface ChainCheckpointDocument extends ChainTip {
  _id: number;
  verified_at: Date;
  mac: string;
}

const chainCheckpointSchema = new Schema<ChainCheckpointDocument>(
  {
    _id: { type: Number },
    seq: { type: Number, required: true },
    hash: { type: String, required: true },
    verified_at: { type: Date, required: true },
    mac: { type: String, required: true },
  },
  { collection: 'chain_checkpoints', versionKey: false },
);

export interface DailyStatsDocument extends DayStats {
  _id: string;
  /** Highest seq folded into this day: a replayed fold of a record at or below it is a no-op. */
  last_seq: number;
  version?: number;
}

const dailyStatsSchema = new Schema<DailyStatsDocument>(
  {
    _id: { type: String },
    last_seq: { type: Number, required: true },
    counts: { type: Schema.Types.Mixed, default: {} },
    amount_minor: { type: Schema.Types.Mixed, default: {} },
    version: { type: Number },
  },
  { collection: 'daily_stats', versionKey: false, minimize: false },
);

export interface FoldCursorDocument {
  _id: string;
  seq: number;
  version?: number;
}

const foldCursorSchema = new Schema<FoldCursorDocument>(
  { _id: { type: String }, seq: { type: Number, required: true }, version: { type: Number } },
  { collection: 'fold_cursor', versionKey: false },
);

export interface ReconciliationDocument extends Omit<ReconciliationRow, 'payment_id'> {
  _id: string;
  /**
   * Highest seq applied to this row: records of one payment may set the same field (a late success
   * after a success), so a replica replaying an older record must not overwrite a newer one's value.
   * Absent on rows written before it existed.
   */
  last_seq?: number;
  version?: number;
}

const reconciliationSchema = new Schema<ReconciliationDocument>(
  {
    _id: { type: String },
    order_id: { type: String, default: null },
    amount_minor: { type: Number, default: null },
    currency: { type: String, default: null },
    transaction_id: { type: String, default: null },
    succeeded_day: { type: String, default: null },
    succeeded_at: { type: Date, default: null },
    paid_day: { type: String, default: null },
    paid_at: { type: Date, default: null },
    late_success_day: { type: String, default: null },
    late_success_at: { type: Date, default: null },
    duplicate_day: { type: String, default: null },
    duplicate_at: { type: Date, default: null },
    duplicates: { type: Schema.Types.Mixed, default: null },
    refunds: { type: Schema.Types.Mixed, default: null },
    last_seq: { type: Number },
    version: { type: Number },
  },
  { collection: 'reconciliation', versionKey: false },
);
reconciliationSchema.index({ succeeded_day: 1, paid_day: 1 });
reconciliationSchema.index({ paid_day: 1, succeeded_day: 1 });
reconciliationSchema.index({ late_success_day: 1 });
reconciliationSchema.index({ duplicate_day: 1 });

export function auditModels(connection: Connection) {
  return {
    records: connection.model<AuditRecord>('AuditRecord', recordSchema),
    chainHead: connection.model<ChainHeadDocument>('ChainHead', chainHeadSchema),
    publishedAnchors: connection.model<PublishedAnchorDocument>('PublishedAnchor', publishedAnchorSchema),
    checkpoints: connection.model<ChainCheckpointDocument>('ChainCheckpoint', chainCheckpointSchema),
    dailyStats: connection.model<DailyStatsDocument>('DailyStats', dailyStatsSchema),
    foldCursor: connection.model<FoldCursorDocument>('FoldCursor', foldCursorSchema),
    reconciliation: connection.model<ReconciliationDocument>('Reconciliation', reconciliationSchema),
  };
}
export type AuditModels = ReturnType<typeof auditModels>;
