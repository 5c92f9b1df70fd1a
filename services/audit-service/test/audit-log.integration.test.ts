import mongoose, { type Connection } from 'mongoose';
import type { AnyEvent } from '@pay/contracts';
import { ensureIndexes } from '@pay/db';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';
import { auditModels, type AuditModels } from '../src/data-access/audit-models';
import { AuditRepository, type AuditRepositoryOptions } from '../src/data-access/audit-repository';
import { ChainWriter } from '../src/data-access/chain-writer';
import { RECORD_BLOCK } from '../src/data-access/seq-lookups';
import { walkStoredChain } from '../src/data-access/verify-stored-chain';
import { buildAuditEntry } from '../src/domain/audit-record';
import { computeDailyReport, produceDailyReport } from '../src/domain/daily-report';
import { chainNext, checkpointMac, headMac, type AuditRecord } from '../src/domain/hash-chain';
import { recordAuditEvent } from '../src/domain/record-event';
import { craftedDayEvents, paymentCreated, paymentSucceeded, REFUND_DAY_1, REFUND_DAY_2, refundDaysEvents, REPORT_DAY } from './audit-fixtures';

/**
 * The audit log against the real database (FerretDB from jest's global setup, or MONGO_URL). Each test
 * gets its own small database: FerretDB v1 scans whole collections, and tampering must stay local.
 */
const connections: Connection[] = [];

async function openAuditLog(label: string, options: AuditRepositoryOptions = {}): Promise<{ connection: Connection; models: AuditModels; store: AuditRepository }> {
  const connection = mongoose.createConnection(testMongoUrl(), { dbName: isolatedPrefix(label), maxPoolSize: 3, autoIndex: false });
  connections.push(connection);
  await connection.asPromise();
  const models = auditModels(connection);
  await ensureIndexes(connection);
  return { connection, models, store: new AuditRepository(models, options) };
}

async function recordAll(store: AuditRepository, events: AnyEvent[]): Promise<void> {
  for (const event of events) await recordAuditEvent(store, event);
}

const at = (minute: number) => `${REPORT_DAY}T09:${String(minute).padStart(2, '0')}:00.000Z`;
/** What an unkeyed verify without an anchor adds: every record up to the head is unanchored. */
const unanchored = (headSeq: number) => ({ keyed: false, anchor: null, unanchored_records: headSeq });
const tenEvents = () => Array.from({ length: 10 }, (_, i) => paymentCreated(i + 1, at(i)));

afterAll(async () => {
  for (const connection of connections) {
    await connection.dropDatabase().catch(() => undefined);
    await connection.close();
  }
});

describe('audit log on the real database', () => {
  it('stores an event delivered twice as one record, counted once', async () => {
    const { models, store } = await openAuditLog('dup');
    const event = paymentSucceeded(1, at(0));
    const first = await recordAuditEvent(store, event);
    const second = await recordAuditEvent(store, event);
    expect(first).toMatchObject({ status: 'appended', record: { _id: event.id, seq: 1, action: 'payment_succeeded' } });
    expect(second).toEqual({ status: 'duplicate', id: event.id });
    expect(await models.records.countDocuments({})).toBe(1);
    expect((await store.dayStats(REPORT_DAY)).counts).toEqual({ payment_succeeded: 1 });
  });

  it('verifies an untouched chain of ten records and keeps the head on the last one', async () => {
    const { models, store } = await openAuditLog('ok');
    await recordAll(store, tenEvents());
    expect(await store.verify()).toEqual({ ok: true, checked: 10, from_checkpoint: 0, checkpoints: 1, ...unanchored(10) });
    const last = await models.records.findOne({ seq: 10 }).lean();
    // Ten advances of the head, each a versioned write that signs it.
    expect(await models.chainHead.findById('head').lean()).toEqual({ _id: 'head', seq: 10, hash: last!.hash, mac: headMac(10, last!.hash), version: 10 });
  });

  it('reports the seq of a record whose amount was edited in the database', async () => {
    const { models, store } = await openAuditLog('edit');
    await recordAll(store, tenEvents());
    await models.records.collection.updateOne({ seq: 4 }, { $set: { amount_minor: 1 } });
    const result = await store.verify();
    expect(result).toMatchObject({ ok: false, checked: 4, first_bad: { seq: 4, problem: 'hash_mismatch' } });
    expect(result.first_bad!.id).toBe((await models.records.findOne({ seq: 4 }).lean())!._id);
  });

  it('detects a record deleted from the middle', async () => {
    const { models, store } = await openAuditLog('delmid');
    await recordAll(store, tenEvents());
    await models.records.collection.deleteOne({ seq: 5 });
    expect(await store.verify()).toMatchObject({ ok: false, first_bad: { seq: 5, id: null, problem: 'missing_record' } });
  });

  it('detects the last record deleted, and keeps the cut visible after new appends', async () => {
    const { models, store } = await openAuditLog('deltail');
    await recordAll(store, tenEvents());
    await models.records.collection.deleteOne({ seq: 10 });
    expect(await store.verify()).toMatchObject({ ok: false, checked: 9, first_bad: { seq: 10, id: null, problem: 'truncated_tail' } });

    // A restarted writer chains from the head, not from the last surviving record.
    const restarted = new AuditRepository(models);
    await restarted.repairHead();
    await recordAuditEvent(restarted, paymentCreated(11, at(20)));
    expect(await restarted.verify()).toMatchObject({ ok: false, first_bad: { seq: 10, problem: 'missing_record' } });
  });

  it('repairs a head left behind by a crash between insert and head update', async () => {
    const { models, store } = await openAuditLog('crash');
    await recordAll(store, tenEvents().slice(0, 3));
    const head = (await models.chainHead.findById('head').lean())!;
    // The crash: record 4 inserted, head and stats never updated.
    const orphan = chainNext(buildAuditEntry(paymentCreated(4, at(3)), new Date()), { seq: head.seq, hash: head.hash });
    await models.records.collection.insertOne(orphan as never);
    expect(await store.verify()).toEqual({ ok: true, checked: 4, from_checkpoint: 0, checkpoints: 1, ...unanchored(3) }); // checkpoint at the head, 3

    const restarted = new AuditRepository(models);
    expect(await restarted.repairHead()).toBe(4);
    expect(await models.chainHead.findById('head').lean()).toMatchObject({ seq: 4, hash: orphan.hash });
    expect(await restarted.foldPending()).toBe(1);
    await recordAuditEvent(restarted, paymentCreated(5, at(4)));
    expect(await restarted.verify()).toEqual({ ok: true, checked: 2, from_checkpoint: 3, checkpoints: 2, ...unanchored(5) });
    expect(await restarted.verify({ full: true })).toEqual({ ok: true, checked: 5, from_checkpoint: 0, checkpoints: 2, ...unanchored(5) });
    expect((await restarted.dayStats(REPORT_DAY)).counts).toEqual({ payment_created: 5 });
  });

  it('a restarted writer finds the end of the chain by seq from the head, without reading the whole collection', async () => {
    const { connection, models, store } = await openAuditLog('restart-tip');
    await recordAll(store, tenEvents().slice(0, 3));
    // The crash: records 4 and 5 stored in one run, the head never advanced past 3.
    const head = (await models.chainHead.findById('head').lean())!;
    const four = chainNext(buildAuditEntry(tenEvents()[3]!, new Date()), { seq: head.seq, hash: head.hash });
    const five = chainNext(buildAuditEntry(tenEvents()[4]!, new Date()), four);
    await models.records.collection.insertMany([four, five] as never[]);

    const wholeCollectionReads: unknown[] = [];
    connection.set('debug', (collection: string, method: string, filter: Record<string, unknown>) => {
      if (collection === 'audit_records' && (method === 'find' || method === 'findOne') && Object.keys(filter ?? {}).length === 0) wholeCollectionReads.push(method);
    });
    try {
      expect(await new AuditRepository(models).repairHead()).toBe(5);
    } finally {
      connection.set('debug', false);
    }
    expect(wholeCollectionReads).toEqual([]);
    expect(await models.chainHead.findById('head').lean()).toMatchObject({ seq: 5, hash: five.hash });
  });

  it('keeps one dense chain and exact counts when two writers append at once', async () => {
    const { models, store } = await openAuditLog('race');
    const other = new AuditRepository(models);
    const events = Array.from({ length: 12 }, (_, i) => paymentCreated(i + 1, at(i)));
    await Promise.all([
      recordAll(store, events.filter((_, i) => i % 2 === 0)),
      recordAll(other, events.filter((_, i) => i % 2 === 1)),
    ]);
    expect(await store.verify()).toEqual({ ok: true, checked: 12, from_checkpoint: 0, checkpoints: 1, ...unanchored(12) });
    const seqs = (await models.records.find({}, { seq: 1 }).sort({ seq: 1 }).lean()).map((r) => r.seq);
    expect(seqs).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    await store.foldPending();
    expect((await store.dayStats(REPORT_DAY)).counts).toEqual({ payment_created: 12 });
    expect((await store.dayStats(REPORT_DAY)).amount_minor).toEqual({ payment_created: { CNY: 12 * 9900 } });
  });

  it('appends a run in one go: an event already stored in the middle is a duplicate, a seq taken by another writer re-chains the rest', async () => {
    const { models, store } = await openAuditLog('run');
    const other = new AuditRepository(models);
    const events = Array.from({ length: 8 }, (_, i) => paymentCreated(i + 1, at(i)));
    await recordAuditEvent(store, events[2]!); // seq 1: event 3 is stored before the run
    // Another writer appends after this one's last look at the chain: the run's first seq (2) is taken.
    await recordAuditEvent(other, events[7]!);
    const outcomes = await Promise.all(events.slice(0, 7).map((event) => store.append(buildAuditEntry(event, new Date()))));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['appended', 'appended', 'duplicate', 'appended', 'appended', 'appended', 'appended']);
    expect(outcomes.flatMap((outcome) => (outcome.status === 'appended' ? [outcome.record.seq] : []))).toEqual([3, 4, 5, 6, 7, 8]);
    expect(await store.verify()).toEqual({ ok: true, checked: 8, from_checkpoint: 0, checkpoints: 1, ...unanchored(8) });
    expect(await models.chainHead.findById('head').lean()).toMatchObject({ seq: 8 });
    await store.foldPending();
    expect((await store.dayStats(REPORT_DAY)).counts).toEqual({ payment_created: 8 });
  });

  it('folds a run another folder applied part of (it crashed before saving the cursor): each record counted once', async () => {
    const { models, store } = await openAuditLog('overlap');
    const events = Array.from({ length: 10 }, (_, i) => paymentSucceeded(i + 1, at(i)));
    await Promise.all(events.slice(0, 7).map((event) => store.append(buildAuditEntry(event, new Date()))));
    expect(await store.foldPending()).toBe(7);
    // The crash: records 6 and 7 are in the day's figures and rows, the shared cursor still says 5.
    await models.foldCursor.updateOne({ _id: 'daily_stats' }, { $set: { seq: 5 }, $inc: { version: 1 } });
    for (const event of events.slice(7)) await store.append(buildAuditEntry(event, new Date()));

    // Another replica folds from the cursor: the run 6..10 touches one day whose figures have seen up to 7.
    const other = new AuditRepository(models);
    expect(await other.foldPending()).toBe(3);
    expect((await store.dayStats(REPORT_DAY)).counts).toEqual({ payment_succeeded: 10 });
    expect((await store.dayStats(REPORT_DAY)).amount_minor).toEqual({ payment_succeeded: { CNY: 10 * 9900 } });
    expect(await models.reconciliation.countDocuments({})).toBe(10);
    expect(await models.foldCursor.findById('daily_stats').lean()).toMatchObject({ seq: 10 });
  });

  it('a fold that reaches the end while another replica appends reads the new record by seq, not by a page of the whole collection', async () => {
    const { connection, models, store: writer } = await openAuditLog('fold-race');
    for (const event of tenEvents().slice(0, 3)) await recordAuditEvent(writer, event);
    // This replica's fold reads the head just after the other one appended record 4 (the lookups before
    // found nothing after 3): a record is stored before the head moves past it, so it is there to look up.
    let raced = false;
    const headWhileAppending = {
      findById: (...args: Parameters<AuditModels['chainHead']['findById']>) => ({
        lean: async () => {
          if (!raced) {
            raced = true;
            await writer.append(buildAuditEntry(tenEvents()[3]!, new Date()));
          }
          return models.chainHead.findById(...args).lean();
        },
      }),
    };
    const folder = new AuditRepository({ ...models, chainHead: headWhileAppending as unknown as AuditModels['chainHead'] });
    const pages: unknown[] = [];
    connection.set('debug', (collection: string, method: string, filter: { seq?: unknown }) => {
      if (collection === 'audit_records' && method === 'find' && typeof filter?.seq === 'object') pages.push(filter);
    });
    try {
      expect(await folder.foldPending()).toBe(1);
    } finally {
      connection.set('debug', false);
    }
    expect(raced).toBe(true);
    expect(pages).toEqual([]);
    expect((await writer.dayStats(REPORT_DAY)).counts).toEqual({ payment_created: 4 });
  });

  it('folds a run appended together once, with no lookups: its callers wait for the fold that took it, not for another that finds nothing', async () => {
    const { connection, store } = await openAuditLog('fold-join');
    await recordAuditEvent(store, tenEvents()[0]!); // the first fold of a process reads the cursor and looks up what follows it
    const appended = await Promise.all(tenEvents().slice(1).map((event) => store.append(buildAuditEntry(event, new Date()))));
    expect(appended.map((outcome) => (outcome.status === 'appended' ? outcome.record.seq : null))).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const reads: string[] = [];
    connection.set('debug', (collection: string, method: string) => {
      if (method === 'find' || method === 'findOne') reads.push(collection);
    });
    try {
      // As the consumer does once the run is stored: every event's caller asks for a fold at once.
      const folds = await Promise.all(appended.map((outcome) => store.foldPending(outcome.status === 'appended' ? outcome.record.seq : undefined)));
      expect(folds).toEqual(Array.from({ length: 9 }, () => 9));
    } finally {
      connection.set('debug', false);
    }
    expect(reads).toEqual([]);
    expect((await store.dayStats(REPORT_DAY)).counts).toEqual({ payment_created: 10 });
  });

  it('folds into day figures and reconciliation rows stored before they carried a version', async () => {
    const { models, store } = await openAuditLog('legacy');
    const paidAt = new Date(at(1));
    await models.dailyStats.collection.insertOne({ _id: REPORT_DAY as never, last_seq: 0, counts: { order_paid: 1 }, amount_minor: {} });
    await models.reconciliation.collection.insertOne({ _id: 'p1' as never, order_id: 'o1', paid_day: REPORT_DAY, paid_at: paidAt });
    await recordAuditEvent(store, paymentSucceeded(1, at(2)));

    expect(await models.dailyStats.findById(REPORT_DAY).lean()).toMatchObject({ counts: { order_paid: 1, payment_succeeded: 1 }, last_seq: 1, version: 1 });
    expect(await models.reconciliation.findById('p1').lean()).toMatchObject({
      paid_day: REPORT_DAY,
      paid_at: paidAt,
      succeeded_day: REPORT_DAY,
      transaction_id: 'tx1',
      last_seq: 1,
      version: 1,
    });
  });

  it('gives exactly the crafted day in the daily report, the same as computed from the records', async () => {
    const { store } = await openAuditLog('report');
    const events = craftedDayEvents();
    await recordAll(store, events);
    const now = new Date('2024-03-17T00:00:00Z');
    const report = await produceDailyReport(store, REPORT_DAY, now);

    expect(report.payments).toEqual({ created: 10, succeeded: 7, failed: 0, expired: 2, cancelled: 1, late_success: 1, duplicate_paid: 0, success_rate: 0.7, timeout_rate: 0.2 });
    expect(report.callbacks).toEqual({
      verified: 7,
      rejected: 1,
      signature_failures: 1,
      signature_failure_rate: 0.125,
      response_time_ms: { count: 8, p50: 30, p95: 70, p99: 70 },
    });
    expect(report.amounts.succeeded).toEqual({ CNY: { amount_minor: 69300, amount: '693.00' } });
    expect(report.amounts.expired).toEqual({ CNY: { amount_minor: 19800, amount: '198.00' } });
    expect(report.reconciliation.payments_succeeded_without_order_paid.map((p) => p.payment_id)).toEqual(['p7']);
    expect(report.reconciliation.orders_paid_without_payment_succeeded.map((o) => o.order_id)).toEqual(['o99']);
    expect(report.reconciliation.late_successes.map((p) => p.payment_id)).toEqual(['p8']);
    expect(report).toEqual(computeDailyReport(events.map((event) => buildAuditEntry(event, now)), REPORT_DAY, now));

    const nextDay = await produceDailyReport(store, '2024-03-16', now);
    expect(nextDay.reconciliation.payments_succeeded_without_order_paid.map((p) => p.payment_id)).toEqual(['p11']);
  });

  it('gives the refund days in the daily report as computed from the records: refunded money leaves reconciliation', async () => {
    const { models, store } = await openAuditLog('refunds');
    const events = refundDaysEvents();
    await recordAll(store, events);
    const now = new Date('2024-04-05T00:00:00Z');
    const entries = events.map((event) => buildAuditEntry(event, now));
    for (const day of [REFUND_DAY_1, REFUND_DAY_2]) {
      expect(await produceDailyReport(store, day, now)).toEqual(computeDailyReport(entries, day, now));
    }
    const report = await produceDailyReport(store, REFUND_DAY_2, now);
    expect(report.refunds).toEqual({ requested: 5, succeeded: 4, failed: 1 });
    expect(report.reconciliation.late_successes.map((item) => [item.payment_id, item.open])).toEqual([['p23', '69.00']]);
    expect(report.reconciliation.refunded_in_full.map((item) => item.payment_id)).toEqual(['p21', 'p22', 'p24']);
    expect(report.reconciliation.duplicate_payments).toEqual([]);
    expect(await models.reconciliation.findById('p22').lean()).toMatchObject({
      duplicate_day: REFUND_DAY_1,
      duplicates: { [REFUND_DAY_1]: { count: 1, amount_minor: 9900 } },
      refunds: { [REFUND_DAY_2]: { count: 1, amount_minor: 9900 } },
      transaction_id: 'tx22',
    });
  });

  it('lists records newest first with filters and pages', async () => {
    const { store } = await openAuditLog('list');
    await recordAll(store, [...tenEvents(), paymentSucceeded(3, at(30))]);
    const page1 = await store.list({}, 1, 4);
    expect(page1.count).toBe(11);
    expect(page1.items.map((r) => r.seq)).toEqual([11, 10, 9, 8]);
    const ofPayment = await store.list({ paymentId: 'p3' }, 1, 20);
    expect(ofPayment.items.map((r) => r.action)).toEqual(['payment_succeeded', 'payment_created']);
    const window = await store.list({ action: 'payment_created', from: new Date(at(2)), to: new Date(at(4)) }, 1, 20);
    expect(window.items.map((r) => r.payment_id)).toEqual(['p5', 'p4', 'p3']);
  });
});

describe('verify from checkpoints', () => {
  const CHAIN_KEY = 'checkpoint-test-chain-key-0123456789abcdef';

  it('walks only the records after the latest checkpoint, and stores one at the head', async () => {
    const { models, store } = await openAuditLog('ckpt', { checkpointEvery: 4 });
    await recordAll(store, tenEvents()); // the appends of seq 4 and 8 verified up to them
    expect((await models.checkpoints.find({}).sort({ _id: 1 }).lean()).map((checkpoint) => checkpoint._id)).toEqual([4, 8]);
    expect(await store.verify()).toEqual({ ok: true, checked: 2, from_checkpoint: 8, checkpoints: 3, ...unanchored(10) });
    const last = (await models.records.findOne({ seq: 10 }).lean())!;
    expect(await models.checkpoints.findById(10).lean()).toEqual({ _id: 10, seq: 10, hash: last.hash, verified_at: expect.any(Date), mac: checkpointMac(10, last.hash) });

    await recordAuditEvent(store, paymentCreated(11, at(11)));
    expect(await store.verify()).toEqual({ ok: true, checked: 1, from_checkpoint: 10, checkpoints: 4, ...unanchored(11) });
    expect(await store.verify({ full: true })).toEqual({ ok: true, checked: 11, from_checkpoint: 0, checkpoints: 4, ...unanchored(11) });
  });

  it('ignores a checkpoint whose mac does not match (keyed chain): walks from the one below, or all', async () => {
    const { models, store } = await openAuditLog('ckptmac', { chainKey: CHAIN_KEY });
    await recordAll(store, tenEvents());
    const hashAt = async (seq: number) => (await models.records.findOne({ seq }).lean())!.hash;
    // Signed without the key (what a database writer can compute): not trusted.
    const forged = { _id: 8, seq: 8, hash: await hashAt(8), verified_at: new Date(), mac: checkpointMac(8, await hashAt(8)) };
    await models.checkpoints.collection.insertOne(forged as never);
    expect(await store.verify()).toEqual({ ok: true, checked: 10, from_checkpoint: 0, checkpoints: 2, ...unanchored(10), keyed: true });

    await models.checkpoints.collection.deleteOne({ _id: 10 as never });
    const signed = { _id: 5, seq: 5, hash: await hashAt(5), verified_at: new Date(), mac: checkpointMac(5, await hashAt(5), CHAIN_KEY) };
    await models.checkpoints.collection.insertOne(signed as never);
    expect(await store.verify()).toEqual({ ok: true, checked: 5, from_checkpoint: 5, checkpoints: 3, ...unanchored(10), keyed: true });
  });

  it('detects a record edited after the latest checkpoint on an incremental verify', async () => {
    const { models, store } = await openAuditLog('ckptedit', { checkpointEvery: 4 });
    await recordAll(store, tenEvents());
    await models.records.collection.updateOne({ seq: 9 }, { $set: { amount_minor: 1 } });
    expect(await store.verify()).toMatchObject({ ok: false, checked: 1, from_checkpoint: 8, first_bad: { seq: 9, problem: 'hash_mismatch' } });
    expect(await models.checkpoints.countDocuments({})).toBe(2); // nothing stored past the fault
  });

  it('detects a record deleted or a tail cut after the latest checkpoint on an incremental verify', async () => {
    const { models, store } = await openAuditLog('ckptdel', { checkpointEvery: 4 });
    await recordAll(store, tenEvents());
    await models.records.collection.deleteOne({ seq: 9 });
    expect(await store.verify()).toMatchObject({ ok: false, checked: 1, from_checkpoint: 8, first_bad: { seq: 9, id: null, problem: 'missing_record' } });
    await models.records.collection.deleteOne({ seq: 10 });
    expect(await store.verify()).toMatchObject({ ok: false, checked: 0, from_checkpoint: 8, first_bad: { seq: 9, id: null, problem: 'truncated_tail' } });
  });

  it('falls back to an earlier checkpoint when the record at the latest one was edited', async () => {
    const { models, store } = await openAuditLog('ckptat', { checkpointEvery: 4 });
    await recordAll(store, tenEvents());
    await models.records.collection.updateOne({ seq: 8 }, { $set: { amount_minor: 1 } });
    expect(await store.verify()).toMatchObject({ ok: false, from_checkpoint: 4, first_bad: { seq: 8, problem: 'hash_mismatch' } });
  });

  it('detects a record edited or deleted before the checkpoint with a full walk (?full=true)', async () => {
    const { models, store } = await openAuditLog('ckptfull', { checkpointEvery: 4 });
    await recordAll(store, tenEvents());
    expect(await store.verify()).toMatchObject({ ok: true, from_checkpoint: 8 });
    await models.records.collection.updateOne({ seq: 3 }, { $set: { amount_minor: 1 } });
    // The incremental verify trusts the checkpoint at the head: the edit below it is not walked.
    expect(await store.verify()).toEqual({ ok: true, checked: 0, from_checkpoint: 10, checkpoints: 3, ...unanchored(10) });
    expect(await store.verify({ full: true })).toMatchObject({ ok: false, checked: 3, from_checkpoint: 0, first_bad: { seq: 3, problem: 'hash_mismatch' } });

    await models.records.collection.deleteOne({ seq: 2 });
    expect(await store.verify({ full: true })).toMatchObject({ ok: false, from_checkpoint: 0, first_bad: { seq: 2, id: null, problem: 'missing_record' } });
  });

  it('detects a head rewritten at the checkpoint seq: unsigned, or signed (unkeyed chain) but naming another record', async () => {
    const { models, store } = await openAuditLog('ckpthead');
    await recordAll(store, tenEvents());
    expect(await store.verify()).toMatchObject({ ok: true, checkpoints: 1 });
    await models.chainHead.collection.updateOne({ _id: 'head' as never }, { $set: { hash: 'f'.repeat(64) }, $inc: { version: 1 } });
    expect(await store.verify()).toMatchObject({ ok: false, checked: 0, from_checkpoint: 0, first_bad: { seq: 10, problem: 'head_forged' } });
    // Without a key anyone can sign the head: the walk is then what finds it names another record.
    await models.chainHead.collection.updateOne({ _id: 'head' as never }, { $set: { mac: headMac(10, 'f'.repeat(64)) }, $inc: { version: 1 } });
    expect(await store.verify()).toMatchObject({ ok: false, checked: 0, from_checkpoint: 10, first_bad: { seq: 10, problem: 'head_mismatch' } });
  });
});

describe('chain walks read a block of records at a time', () => {
  /** `count` records appended by the writer in runs of 100, as the consumer appends under load. */
  async function appendRecords(models: AuditModels, count: number, firstEvent = 1): Promise<void> {
    const writer = new ChainWriter(models);
    for (let i = 0; i < count; i += 100) {
      const events = Array.from({ length: Math.min(100, count - i) }, (_, j) => paymentCreated(firstEvent + i + j, at((i + j) % 60)));
      await writer.appendMany(events.map((event) => buildAuditEntry(event, new Date())));
    }
  }

  /** The record queries a call makes. */
  async function recordQueries<T>(connection: Connection, call: () => Promise<T>): Promise<{ result: T; queries: Record<string, unknown>[] }> {
    const queries: Record<string, unknown>[] = [];
    connection.set('debug', (collection: string, method: string, filter: Record<string, unknown>) => {
      if (collection === 'audit_records' && (method === 'find' || method === 'findOne')) queries.push(filter);
    });
    try {
      return { result: await call(), queries };
    } finally {
      connection.set('debug', false);
    }
  }

  it('verifies 1,200 records with one query per block of 500 (FerretDB pushes it down), not one per record', async () => {
    const { connection, models } = await openAuditLog('blocks');
    await appendRecords(models, 1200);
    expect(await models.records.countDocuments({ block: 1 })).toBe(RECORD_BLOCK);

    const { result, queries } = await recordQueries(connection, () => walkStoredChain(models, null, { full: true }));
    expect(result).toMatchObject({ ok: true, checked: 1200, from_checkpoint: 0 });
    // The third block ends inside itself: one lookup of the next seq says the chain ends there.
    expect(queries).toEqual([{ block: 0 }, { block: 1 }, { block: 2 }, { seq: 1201 }]);
    const explained = await connection.db!.command({ explain: { find: 'audit_records', filter: { block: 1 } }, verbosity: 'queryPlanner' });
    if ('filterPushdown' in explained) expect(explained.filterPushdown).toBe(true);
  });

  it('walks records stored before they carried a block by seq, on into the blocked ones after them', async () => {
    const { models } = await openAuditLog('unblocked');
    // Twenty records from before blocks: chained as the writer did, stored without the field.
    let tip: AuditRecord | null = null;
    const old: AuditRecord[] = [];
    for (let n = 1; n <= 20; n++) old.push((tip = chainNext(buildAuditEntry(paymentCreated(n, at(n)), new Date()), tip)));
    await models.records.collection.insertMany(old as never[]);
    await appendRecords(models, 30, 21); // the writer finds the end of the old records and chains on
    expect(await models.records.countDocuments({ block: { $exists: true } })).toBe(30);
    expect(await walkStoredChain(models, null, { full: true })).toMatchObject({ ok: true, checked: 50 });
  });

  it('finds a record whose block was changed (pages past it) and still reports a deleted one', async () => {
    const { models } = await openAuditLog('blockedit');
    await appendRecords(models, 30);
    await models.records.collection.updateOne({ seq: 12 }, { $set: { block: 7 } });
    expect(await walkStoredChain(models, null, { full: true })).toMatchObject({ ok: true, checked: 30 });
    await models.records.collection.deleteOne({ seq: 20 });
    expect(await walkStoredChain(models, null, { full: true })).toMatchObject({ ok: false, first_bad: { seq: 20, problem: 'missing_record' } });
  });
});
