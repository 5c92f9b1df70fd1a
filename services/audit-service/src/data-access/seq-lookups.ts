import type { AuditModels } from './audit-models';

/**
 * The records at seq `from`, `from + 1`, … up to the first one missing, `count` at most, read by `seq`
 * equality in parallel: the shape every store answers from the unique seq index (FerretDB v1 answers a
 * `$gt` page by reading and sorting the whole collection). Fewer than `count`: the next seq is missing
 * (the end of the chain, or a gap).
 */
export async function consecutiveRecords<T extends { seq: number }>(
  models: AuditModels,
  from: number,
  count: number,
  projection?: Record<string, number>,
): Promise<T[]> {
  const found = await Promise.all(Array.from({ length: count }, (_, i) => models.records.findOne({ seq: from + i }, projection).lean<T>()));
  const run: T[] = [];
  for (const record of found) {
    if (!record) break;
    run.push(record);
  }
  return run;
}

/**
 * Records are stored with `block` = ⌊seq / RECORD_BLOCK⌋ (outside the hashed content): one equality
 * query then reads up to RECORD_BLOCK consecutive records, where FerretDB v1 can only push down
 * equalities (a range there reads the whole collection) and a lookup by seq costs a round trip a record.
 */
export const RECORD_BLOCK = 500;

export function blockOf(seq: number): number {
  return Math.floor(seq / RECORD_BLOCK);
}

/** Lookups by seq at once for records stored before they carried a block. */
const UNBLOCKED_LOOKUPS = 8;

/**
 * The unbroken run of records from seq `from` on, within `from`'s block: one query by `block`. `more`:
 * the chain may go on after the run (it reaches the end of the block, or the next seq is stored without
 * its block); otherwise the seq after the run is missing (the end of the chain, or a gap). Records
 * stored before blocks existed (or whose block was edited) are in no block of theirs: from such a record
 * on, a few are read by seq instead.
 */
export async function blockRunFrom<T extends { seq: number }>(models: AuditModels, from: number): Promise<{ run: T[]; more: boolean }> {
  const block = blockOf(from);
  const bySeq = new Map((await models.records.find({ block }).lean<T[]>()).map((record) => [record.seq, record]));
  const run: T[] = [];
  for (let seq = from; bySeq.has(seq); seq++) run.push(bySeq.get(seq)!);
  if (run.length === 0) {
    const unblocked = await consecutiveRecords<T>(models, from, UNBLOCKED_LOOKUPS);
    return { run: unblocked, more: unblocked.length === UNBLOCKED_LOOKUPS };
  }
  const last = run.at(-1)!.seq;
  if (last === (block + 1) * RECORD_BLOCK - 1) return { run, more: true };
  return { run, more: (await models.records.exists({ seq: last + 1 })) !== null };
}
