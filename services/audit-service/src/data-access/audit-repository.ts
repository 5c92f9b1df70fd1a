import { setTimeout as sleep } from 'node:timers/promises';
import { findPage, isDuplicateKeyError } from '@pay/db';
import type { AuditEntry } from '../domain/audit-record';
import type { AppendOutcome, AuditFilter, AuditStore } from '../domain/audit-store';
import { CALLBACK_ACTIONS } from '../domain/daily-report';
import { emptyDayStats, statsIncrementFor, type DayStats } from '../domain/daily-stats';
import { ChainVerifier, chainNext, type AuditRecord, type ChainTip, type VerifyResult } from '../domain/hash-chain';
import { reconciliationChangeFor, type ReconciliationRow } from '../domain/reconciliation';
import type { AuditModels, ReconciliationDocument } from './audit-models';

const HEAD_ID = 'head';
const FOLD_CURSOR_ID = 'daily_stats';
const FOLD_BATCH = 200;
const VERIFY_BATCH = 500;

export interface AuditRepositoryOptions {
  /** Attempts when another writer keeps taking the next seq (two replicas appending at once). */
  maxAppendAttempts?: number;
  /** HMAC key of the chain (AUDIT_CHAIN_KEY); null: plain SHA-256. */
  chainKey?: string | null;
}

/**
 * The only place that talks to the audit collections.
 *
 * Appending (FerretDB v1 has no transactions, so every step is one single-document write that a crash
 * may interrupt at any point and a retry completes):
 *   1. insert the record with `_id` = event id and `seq` = tip + 1: E11000 on `_id` means this event is
 *      already stored (duplicate, nothing changes); E11000 on `seq` means another writer appended first,
 *      so reload the tip and chain after it;
 *   2. advance the chain head (`{_id:'head', seq, hash}`) — only ever forwards;
 *   3. fold the record into its day's stats and the reconciliation rows (see `foldPending`).
 * A crash after 1 leaves the head behind: `repairHead` (at start-up, and whenever the tip is reloaded)
 * moves it up to the highest record, and verify tolerates a lagging head whose hash matches.
 * The next seq is chained from whichever is further, head or last record: after a tail was cut off, new
 * records chain past the gap, so the cut stays visible instead of being papered over.
 */
export class AuditRepository implements AuditStore {
  /** This writer's view of the chain's end; undefined = reload from the database. */
  private tip: ChainTip | null | undefined = undefined;
  /** Every record with seq ≤ folded is counted in its day's stats; undefined = reload. */
  private folded: number | undefined = undefined;
  private lastAppended: AuditRecord | null = null;
  private readonly maxAppendAttempts: number;

  private readonly chainKey: string | null;

  constructor(
    private readonly models: AuditModels,
    options: AuditRepositoryOptions = {},
  ) {
    this.maxAppendAttempts = options.maxAppendAttempts ?? 20;
    this.chainKey = options.chainKey ?? null;
  }

  async append(entry: AuditEntry): Promise<AppendOutcome> {
    for (let attempt = 1; ; attempt++) {
      if (this.tip === undefined) this.tip = await this.loadTip();
      const record = chainNext(entry, this.tip, this.chainKey);
      try {
        await this.models.records.collection.insertOne(record as never);
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
        if (await this.models.records.exists({ _id: entry._id })) return { status: 'duplicate', id: entry._id };
        this.tip = undefined; // someone else took this seq
        if (attempt >= this.maxAppendAttempts) throw new Error(`audit append gave up after ${attempt} seq conflicts`, { cause: error });
        await sleep(5 + Math.floor(Math.random() * 20 * attempt));
        continue;
      }
      this.tip = { seq: record.seq, hash: record.hash };
      this.lastAppended = record;
      await this.advanceHead(this.tip);
      return { status: 'appended', record };
    }
  }

  async repairHead(): Promise<number> {
    this.tip = await this.loadTip();
    return this.tip?.seq ?? 0;
  }

  /** The chain's end: the head, or the highest record if the head lags it (which is then repaired). */
  private async loadTip(): Promise<ChainTip | null> {
    const [head, last] = await Promise.all([
      this.models.chainHead.findById(HEAD_ID).lean(),
      this.models.records.findOne({}, { seq: 1, hash: 1 }).sort({ seq: -1 }).lean(),
    ]);
    if (last && (!head || last.seq > head.seq)) {
      const tip = { seq: last.seq, hash: last.hash };
      await this.advanceHead(tip);
      return tip;
    }
    return head ? { seq: head.seq, hash: head.hash } : null;
  }

  /** Moves the head forward to `tip`; never backwards (a conditional upsert; E11000 = already there). */
  private async advanceHead(tip: ChainTip): Promise<void> {
    try {
      await this.models.chainHead.collection.updateOne(
        { _id: HEAD_ID as never, seq: { $lt: tip.seq } },
        { $set: { seq: tip.seq, hash: tip.hash } },
        { upsert: true },
      );
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
  }

  /**
   * Folds records into `daily_stats` and `reconciliation` in seq order. Exactly once per record across
   * crashes: the day document's `$inc` is conditional on `last_seq < seq` and sets `last_seq` in the same
   * single-document write, and every folder walks records in seq order (so when a seq is folded into a
   * day, all lower seqs of that day already are). Reconciliation is a `$set`: idempotent.
   * Across replicas this needs atomic conditional updates: true on MongoDB, not on FerretDB v1 (see
   * DocumentLocks in @pay/db), where one replica folds serially (its consumer has prefetch 1).
   */
  async foldPending(): Promise<number> {
    let folded = this.folded ?? (await this.models.foldCursor.findById(FOLD_CURSOR_ID).lean())?.seq ?? 0;
    this.folded = folded;
    let count = 0;
    // Fast path: the record this writer just appended is the next one to fold (no query needed).
    if (this.lastAppended && this.lastAppended.seq === folded + 1) {
      await this.foldRecord(this.lastAppended);
      this.folded = folded = this.lastAppended.seq;
      count = 1;
    } else {
      for (;;) {
        const batch: AuditRecord[] = await this.models.records
          .find({ seq: { $gt: folded } }, { seq: 1, day: 1, action: 1, payment_id: 1, order_id: 1, amount_minor: 1, currency: 1, transaction_id: 1, occurred_at: 1 })
          .sort({ seq: 1 })
          .limit(FOLD_BATCH)
          .lean<AuditRecord[]>();
        for (const record of batch) {
          await this.foldRecord(record);
          this.folded = folded = record.seq;
          count += 1;
        }
        if (batch.length < FOLD_BATCH) break;
      }
    }
    this.lastAppended = null;
    if (count > 0) await this.saveFoldCursor(folded);
    return count;
  }

  private async foldRecord(record: AuditRecord): Promise<void> {
    const increment = statsIncrementFor(record);
    try {
      await this.models.dailyStats.collection.updateOne(
        { _id: record.day as never, last_seq: { $lt: record.seq } },
        { ...(Object.keys(increment).length > 0 ? { $inc: increment } : {}), $set: { last_seq: record.seq } },
        { upsert: true },
      );
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error; // the day already has this seq (or a later one)
    }
    const change = reconciliationChangeFor(record);
    if (change) {
      await this.models.reconciliation.collection.updateOne({ _id: change.paymentId as never }, { $set: change.set }, { upsert: true });
    }
  }

  private async saveFoldCursor(seq: number): Promise<void> {
    try {
      await this.models.foldCursor.collection.updateOne({ _id: FOLD_CURSOR_ID as never, seq: { $lt: seq } }, { $set: { seq } }, { upsert: true });
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
  }

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

  /** One streaming pass in seq order; the head is read first so records appended meanwhile are tolerated. */
  async verify(): Promise<VerifyResult> {
    const head = await this.models.chainHead.findById(HEAD_ID).lean();
    const verifier = new ChainVerifier(head ? { seq: head.seq, hash: head.hash } : null, this.chainKey);
    let after = 0;
    for (;;) {
      // Keyset pages by seq rather than one long cursor: no server cursor kept open during a long verify.
      const batch = await this.models.records.find({ seq: { $gt: after } }).sort({ seq: 1 }).limit(VERIFY_BATCH).lean<AuditRecord[]>();
      for (const record of batch) if (!verifier.check(record)) return verifier.result();
      if (batch.length < VERIFY_BATCH) return verifier.result();
      after = batch.at(-1)!.seq;
    }
  }

  async dayStats(day: string): Promise<DayStats> {
    const document = await this.models.dailyStats.findById(day).lean();
    return document ? { counts: document.counts ?? {}, amount_minor: document.amount_minor ?? {} } : emptyDayStats();
  }

  async callbackTimes(day: string): Promise<number[]> {
    const documents = await this.models.records.find({ day, action: { $in: CALLBACK_ACTIONS } }, { _id: 0, verify_ms: 1 }).lean();
    return documents.map((document) => document.verify_ms).filter((value): value is number => typeof value === 'number');
  }

  async reconciliationCandidates(day: string): Promise<ReconciliationRow[]> {
    const unmatched = (field: string, other: string) => ({ [field]: { $lte: day }, $or: [{ [other]: null }, { [other]: { $gt: day } }] });
    const batches = await Promise.all([
      this.models.reconciliation.find(unmatched('succeeded_day', 'paid_day')).lean<ReconciliationDocument[]>(),
      this.models.reconciliation.find(unmatched('paid_day', 'succeeded_day')).lean<ReconciliationDocument[]>(),
      this.models.reconciliation.find({ late_success_day: { $lte: day } }).lean<ReconciliationDocument[]>(),
    ]);
    const rows = new Map<string, ReconciliationRow>();
    for (const document of batches.flat()) {
      const { _id, ...fields } = document;
      rows.set(_id, { ...fields, payment_id: _id, order_id: fields.order_id ?? null });
    }
    return [...rows.values()];
  }
}
