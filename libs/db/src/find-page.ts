import type { Model } from 'mongoose';

/**
 * One page of a list and the total count, newest first by default (with a stable tie-break so pages
 * never overlap). The outbox never leaves the repository.
 */
export async function findPage<T>(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  model: Model<any>,
  query: Record<string, unknown>,
  page: number,
  pageSize: number,
  sort: Record<string, 1 | -1> = { created_at: -1, _id: 1 },
): Promise<{ documents: T[]; count: number }> {
  const [documents, count] = await Promise.all([
    model
      .find(query, { outbox: 0 })
      .sort(sort)
      .skip((page - 1) * pageSize)
      .limit(pageSize)
      .lean<T[]>(),
    model.countDocuments(query),
  ]);
  return { documents, count };
}
