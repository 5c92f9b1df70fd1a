import { findPage } from '@pay/db';
import type { AuditFilter, PublishedAnchor } from '../domain/audit-store';
import { CALLBACK_ACTIONS } from '../domain/daily-report';
import { emptyDayStats, type DayStats } from '../domain/daily-stats';
import type { AuditRecord } from '../domain/hash-chain';
import type { ReconciliationRow } from '../domain/reconciliation';
import { LAST_ANCHOR_ID, type AuditModels, type ReconciliationDocument } from './audit-models';

/** Bookkeeping of the fold, not part of a reconciliation row. */
const NOT_ROW_FIELDS = { last_seq: 0, version: 0 };

/** The read side: the event list and what the daily report reads (see produceDailyReport). */
export class AuditQueries {
  constructor(private readonly models: AuditModels) {}

  async list(filter: AuditFilter, page: number, pageSize: number): Promise<{ items: AuditRecord[]; count: number }> {
    const query: Record<string, unknown> = {};
    if (filter.paymentId) query.payment_id = filter.paymentId;
    if (filter.orderId) query.order_id = filter.orderId;
    if (filter.action) query.action = filter.action;
    if (filter.from || filter.to) {
      query.occurred_at = { ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lte: filter.to } : {}) };
    }
    const { documents, count } = await findPage<AuditRecord>(this.models.records, query, page, pageSize, { occurred_at: -1, seq: -1 });
    return { items: documents, count };
  }

  async lastPublishedAnchor(): Promise<PublishedAnchor | null> {
    const document = await this.models.publishedAnchors.findById(LAST_ANCHOR_ID).lean();
    return document ? { seq: document.seq, hash: document.hash, anchored_at: document.anchored_at } : null;
  }

  async dayStats(day: string): Promise<DayStats> {
    const document = await this.models.dailyStats.findById(day).lean();
    return document ? { counts: document.counts ?? {}, amount_minor: document.amount_minor ?? {} } : emptyDayStats();
  }

  /**
   * One query per callback action, each on equalities only (`{day, action}`): FerretDB v1 pushes
   * equalities down to its index and nothing else, so an `$in` on the action read and decoded every
   * record of the day (~6 s for a day of 80,000 records; one action: a few hundred ms).
   */
  async callbackTimes(day: string): Promise<number[]> {
    const batches = await Promise.all(
      CALLBACK_ACTIONS.map((action) => this.models.records.find({ day, action }, { _id: 0, verify_ms: 1 }).lean()),
    );
    return batches.flat().map((document) => document.verify_ms).filter((value): value is number => typeof value === 'number');
  }

  /**
   * The rows that do not match as of the end of `day`. Each query has no `$or` and leads with the field
   * an index can bound: an equality on null (`{paid_day, succeeded_day}` and `{succeeded_day, paid_day}`),
   * a range after the day (only what happened after it), or the rare late successes and duplicate
   * payments. So the keys read are the open mismatches (plus the rare ones refunded since: they stay
   * candidates, the pure `reconcile` settles them), not every payment in history; a `$or` inside a range
   * on the leading field (as before) can make the planner read every row with `succeeded_day ≤ day`.
   */
  async reconciliationCandidates(day: string): Promise<ReconciliationRow[]> {
    const find = (filter: Record<string, unknown>) => this.models.reconciliation.find(filter, NOT_ROW_FIELDS).lean<ReconciliationDocument[]>();
    const batches = await Promise.all([
      find({ paid_day: null, succeeded_day: { $lte: day } }), // succeeded, never paid
      find({ paid_day: { $gt: day }, succeeded_day: { $lte: day } }), // succeeded, paid only after the day
      find({ succeeded_day: null, paid_day: { $lte: day } }), // paid, never succeeded
      find({ succeeded_day: { $gt: day }, paid_day: { $lte: day } }), // paid, succeeded only after the day
      find({ late_success_day: { $lte: day } }),
      find({ duplicate_day: { $lte: day } }),
    ]);
    const rows = new Map<string, ReconciliationRow>();
    for (const document of batches.flat()) {
      const { _id, ...fields } = document;
      rows.set(_id, { ...fields, payment_id: _id, order_id: fields.order_id ?? null });
    }
    return [...rows.values()];
  }
}
