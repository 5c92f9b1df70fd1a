import { Schema, type Connection, type Model } from 'mongoose';
import { MAX_SKIPPED_ANCHORS, type AuditAnchor } from '@pay/contracts';
import { isDuplicateKeyError } from '@pay/db';
import type { AnchorsToCheck, AuditAnchorStore, KeptAuditAnchor } from '../domain/audit-anchors';

interface AuditAnchorDocument {
  /** The event id: a redelivered or twice-published anchor collides here and is kept once. */
  _id: string;
  seq: number;
  hash: string;
  mac: string;
  records_at: Date | null;
  anchored_at: Date;
  received_at: Date;
  /** The anchor published before it (its `prev`); null: none known, which skips every anchor below. */
  prev_seq: number | null;
  prev_hash: string | null;
  /** Another anchor's `prev` lies below it and that anchor above it: verify checks it too. */
  skipped: boolean;
}

const auditAnchorSchema = new Schema<AuditAnchorDocument>(
  {
    _id: { type: String },
    seq: { type: Number, required: true },
    hash: { type: String, required: true },
    mac: { type: String, required: true },
    records_at: { type: Date, default: null },
    anchored_at: { type: Date, required: true },
    received_at: { type: Date, required: true },
    prev_seq: { type: Number, default: null },
    prev_hash: { type: String, default: null },
    skipped: { type: Boolean, default: false },
  },
  { collection: 'audit_anchors', versionKey: false },
);
auditAnchorSchema.index({ seq: -1 }); // the latest anchor
auditAnchorSchema.index({ skipped: 1, seq: -1 });

export function auditAnchorModel(connection: Connection): Model<AuditAnchorDocument> {
  return connection.model<AuditAnchorDocument>('AuditAnchor', auditAnchorSchema);
}

/**
 * Anchors are inserted once and then only ever marked skipped (an idempotent `$set` of true, so two
 * replicas marking one anchor at once agree). Each keep inserts first, then marks what it skips and checks
 * whether an anchor held already skips it: of two anchors kept at once by two replicas, the one inserted
 * second sees the first, so whichever one is skipped is marked.
 */
export class AuditAnchorRepository implements AuditAnchorStore {
  constructor(private readonly model: Model<AuditAnchorDocument>) {}

  async keep(anchor: KeptAuditAnchor): Promise<boolean> {
    const document: AuditAnchorDocument = {
      _id: anchor.event_id,
      seq: anchor.seq,
      hash: anchor.hash,
      mac: anchor.mac,
      records_at: anchor.records_at ? new Date(anchor.records_at) : null,
      anchored_at: new Date(anchor.anchored_at),
      received_at: new Date(),
      prev_seq: anchor.prev?.seq ?? null,
      prev_hash: anchor.prev?.hash ?? null,
      skipped: false,
    };
    let inserted = true;
    try {
      await this.model.collection.insertOne(document as never);
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      inserted = false;
    }
    // Also after a duplicate: a crash between the insert and the marks is completed by the redelivery.
    await this.model.collection.updateMany({ seq: { $gt: document.prev_seq ?? 0, $lt: document.seq }, skipped: { $ne: true } }, { $set: { skipped: true } });
    const skippedBy = await this.model.exists({ seq: { $gt: document.seq }, $or: [{ prev_seq: { $lt: document.seq } }, { prev_seq: null }] });
    if (skippedBy) await this.model.collection.updateOne({ _id: document._id as never }, { $set: { skipped: true } });
    return inserted;
  }

  async anchorsToCheck(): Promise<AnchorsToCheck> {
    const [latest, skipped] = await Promise.all([
      this.model.findOne({}).sort({ seq: -1, anchored_at: -1 }).lean(),
      this.model.find({ skipped: true }).sort({ seq: -1 }).limit(MAX_SKIPPED_ANCHORS).lean(),
    ]);
    return { latest: latest ? anchorOf(latest) : null, skipped: skipped.map(anchorOf) };
  }
}

function anchorOf(document: AuditAnchorDocument): AuditAnchor {
  return {
    seq: document.seq,
    hash: document.hash,
    mac: document.mac,
    ...(document.records_at ? { records_at: new Date(document.records_at).toISOString() } : {}),
    anchored_at: new Date(document.anchored_at).toISOString(),
    prev: document.prev_seq !== null && document.prev_hash ? { seq: document.prev_seq, hash: document.prev_hash } : null,
  };
}
