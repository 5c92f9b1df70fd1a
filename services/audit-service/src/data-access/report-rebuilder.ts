import type { Collection } from 'mongoose';
import { bumpVersion, isDuplicateKeyError, writeIfCurrent } from '@pay/db';
import type { RebuiltProjections } from '../domain/audit-store';
import { addToDayStats, emptyDayStats, statsIncrementFor, type DayStats } from '../domain/daily-stats';
import type { AuditRecord } from '../domain/hash-chain';
import { applyReconciliationChange, reconciliationChangeFor, type ReconciliationRow } from '../domain/reconciliation';
import { CHAIN_HEAD_ID, type AuditModels } from './audit-models';
import { FOLD_CURSOR_ID, FOLDED_FIELDS } from './stats-folder';

const REBUILD_BATCH = 500;
const REPLACE_ATTEMPTS = 8;

/** Every field of a reconciliation row: a rebuilt row sets them all, so nothing an edit added survives. */
const ROW_FIELDS = [
  'order_id', 'amount_minor', 'currency', 'transaction_id', 'succeeded_day', 'succeeded_at', 'paid_day', 'paid_at',
  'late_success_day', 'late_success_at', 'duplicate_day', 'duplicate_at', 'duplicates', 'refunds',
] as const satisfies readonly (keyof Omit<ReconciliationRow, 'payment_id'>)[];

interface Projected {
  _id: string;
  last_seq?: number;
  version?: number;
}

/**
 * Recomputes the report projections (`daily_stats`, `reconciliation`) from the records up to `upTo`
 * (a seq the caller has just verified) and replaces the stored documents, while other replicas go on
 * folding new records into them.
 *
 * Each document is replaced with a write guarded by the version it was read at (refused on MongoDB by
 * the filter, on FerretDB v1 by the version guard), re-read and recomputed when another writer got
 * there first. A document's `last_seq` says which records it holds: when a fold past `upTo` already
 * reached it, the records in (upTo, last_seq] of that day or payment are applied on top of the rebuilt
 * value, so the replacement holds exactly what the folds will assume. A `last_seq` beyond the chain's
 * head cannot come from a fold (an edit set it, which would make every later fold skip the document):
 * it is reset to `upTo`. Documents no record backs (an edit inserted them) are emptied.
 * The fold cursor is moved up to `upTo` (everything up to it is in the projections now), or back to it
 * when an edit had set it past the head.
 */
export class ReportRebuilder {
  constructor(private readonly models: AuditModels) {}

  async rebuild(upTo: number): Promise<RebuiltProjections> {
    const days = new Map<string, DayStats>();
    const rows = new Map<string, ReconciliationRow>();
    for await (const record of this.recordsBetween({}, 0, upTo)) {
      days.set(record.day, addToDayStats(days.get(record.day) ?? emptyDayStats(), statsIncrementFor(record)));
      const change = reconciliationChangeFor(record);
      if (change) rows.set(change.paymentId, applyReconciliationChange(rows.get(change.paymentId), change));
    }

    const dayIds = await this.idsWith(this.models.dailyStats.collection, days.keys());
    for (const day of dayIds) {
      await this.replace(this.models.dailyStats.collection, day, upTo, async (target) => {
        let stats = days.get(day) ?? emptyDayStats();
        for await (const record of this.recordsBetween({ day }, upTo, target)) stats = addToDayStats(stats, statsIncrementFor(record));
        return { counts: stats.counts, amount_minor: stats.amount_minor };
      });
    }
    const paymentIds = await this.idsWith(this.models.reconciliation.collection, rows.keys());
    for (const paymentId of paymentIds) {
      await this.replace(this.models.reconciliation.collection, paymentId, upTo, async (target) => {
        let row = rows.get(paymentId);
        for await (const record of this.recordsBetween({ payment_id: paymentId }, upTo, target)) {
          const change = reconciliationChangeFor(record);
          if (change) row = applyReconciliationChange(row, change);
        }
        return Object.fromEntries(ROW_FIELDS.map((field) => [field, row?.[field] ?? null]));
      });
    }
    await this.replace(this.models.foldCursor.collection, FOLD_CURSOR_ID, upTo, async () => ({}), 'seq');
    return { rebuilt_up_to: upTo, days: dayIds.length, reconciliation_rows: paymentIds.length };
  }

  /** The ids of the stored documents and of the rebuilt ones: a stored document no record backs is emptied. */
  private async idsWith(collection: Collection, rebuilt: Iterable<string>): Promise<string[]> {
    const stored = await collection.find({}, { projection: { _id: 1 } }).toArray();
    return [...new Set([...rebuilt, ...stored.map((document) => String(document._id))])].sort();
  }

  /** Records with `filter` and seq in (after, upTo], in seq order, by keyset pages. */
  private async *recordsBetween(filter: Record<string, unknown>, after: number, upTo: number): AsyncGenerator<AuditRecord> {
    let from = after;
    while (from < upTo) {
      const batch = await this.models.records
        .find({ ...filter, seq: { $gt: from, $lte: upTo } }, FOLDED_FIELDS)
        .sort({ seq: 1 })
        .limit(REBUILD_BATCH)
        .lean<AuditRecord[]>();
      yield* batch;
      if (batch.length < REBUILD_BATCH) return;
      from = batch.at(-1)!.seq;
    }
  }

  /**
   * Replaces the document `id` with `fields(target)` and `<seqField>: target`, where `target` is the seq
   * the document holds records up to: `upTo`, or its own further `last_seq` when a fold got there.
   */
  private async replace(
    collection: Collection,
    id: string,
    upTo: number,
    fields: (target: number) => Promise<Record<string, unknown>>,
    seqField = 'last_seq',
  ): Promise<void> {
    for (let attempt = 1; attempt <= REPLACE_ATTEMPTS; attempt++) {
      const current = (await collection.findOne({ _id: id as never })) as (Projected & Record<string, unknown>) | null;
      const headSeq = (await this.models.chainHead.findById(CHAIN_HEAD_ID).lean())?.seq ?? 0;
      const held = typeof current?.[seqField] === 'number' ? (current[seqField] as number) : 0;
      const target = held > upTo && held <= headSeq ? held : upTo;
      const replacement = { ...(await fields(target)), [seqField]: target };
      const written = await writeIfCurrent(`${collection.collectionName}/${id}`, async () => {
        if (!current) {
          try {
            await collection.insertOne({ _id: id as never, ...replacement, version: 1 });
            return true;
          } catch (error) {
            if (isDuplicateKeyError(error)) return false; // created meanwhile by a fold: read it again
            throw error;
          }
        }
        const version = current.version === undefined ? { $exists: false } : current.version;
        const result = await collection.updateOne({ _id: id as never, version } as never, bumpVersion({ $set: replacement }));
        return result.matchedCount > 0;
      });
      if (written) return;
    }
    throw new Error(`${collection.collectionName}/${id} kept changing during the rebuild (${REPLACE_ATTEMPTS} attempts); run it again`);
  }
}
