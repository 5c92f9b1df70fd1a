import type { Collection } from 'mongoose';
import { bumpVersion, isDuplicateKeyError, writeWithRetry } from '@pay/db';

/**
 * Writes one shared audit document (the chain head, a day's stats, a reconciliation row, the fold
 * cursor) so that several replicas may write it at the same time.
 *
 * `condition` is evaluated by the database together with the `_id`, and the update bumps `version`
 * (libs/db/src/versioned-write.ts): on MongoDB that filtered update is atomic; on FerretDB v1, which
 * writes back what it read without re-checking the filter, the version guard refuses the write of the
 * replica that lost the race, and `writeWithRetry` runs it again so the database re-evaluates
 * `condition` against the winner's document.
 *
 * Upserting: when nothing matches, the database inserts `{_id, …update}` (with version 1). E11000 on
 * that insert means a document with this `_id` exists, either created by another replica after this
 * write looked (re-evaluate: run it again), or already there with `condition` false. Every condition
 * used here only ever turns false (a seq that only grows), so a second E11000 means the latter: nothing
 * to do.
 *
 * Resolves true when the write changed or created the document, false when `condition` was false.
 */
export async function upsertIf(
  collection: Collection,
  id: string,
  condition: Record<string, unknown>,
  update: Record<string, unknown>,
): Promise<boolean> {
  const writeOnce = async () => {
    const result = await collection.updateOne({ _id: id as never, ...condition }, bumpVersion(update), { upsert: true });
    return result.matchedCount > 0 || result.upsertedCount > 0;
  };
  return writeWithRetry(`${collection.collectionName}/${id}`, async () => {
    try {
      return await writeOnce();
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
    try {
      return await writeOnce();
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      return false;
    }
  });
}
