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
