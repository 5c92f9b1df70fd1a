import type { Collection } from 'mongoose';

/**
 * A one-time migration keyed by an index the old version declared: it runs while that index exists and
 * drops it last, so a start that stops half-way runs it again and later starts read nothing.
 */

/** The collection has an index of this name (false when the collection does not exist yet). */
export async function hasIndex(collection: Collection, name: string): Promise<boolean> {
  const indexes = await collection.indexes().catch(() => []);
  return indexes.some((index) => index.name === name);
}

/** Drops the index; one already gone (another replica starting at the same time dropped it) is no error. */
export async function dropIndexIfPresent(collection: Collection, name: string): Promise<void> {
  await collection.dropIndex(name).catch((error: { codeName?: string; code?: number }) => {
    if (error.codeName !== 'IndexNotFound' && error.code !== 27) throw error;
  });
}
