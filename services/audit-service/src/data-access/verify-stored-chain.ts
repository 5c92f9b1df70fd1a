import { isDuplicateKeyError } from '@pay/db';
import type { ChainVerification } from '../domain/audit-store';
import type { AuditAnchor } from '@pay/contracts';
import { anchorFault, ChainVerifier, checkpointMac, hashRecord, headFault, type AuditRecord, type ChainStart, type ChainTip } from '../domain/hash-chain';
import { CHAIN_HEAD_ID, type AuditModels, type ChainCheckpointDocument } from './audit-models';
import { blockRunFrom } from './seq-lookups';

const VERIFY_BATCH = 500;
const CHECKPOINT_BATCH = 50;
export const DEFAULT_CHECKPOINT_EVERY = 500;

export interface VerifyStoredChainOptions {
  /** Walk from the first record, ignoring checkpoints (the deep check). */
  full?: boolean;
  /** A checkpoint is stored at every multiple of this seq the walk passes, and at the head. */
  checkpointEvery?: number;
  /** The latest anchor kept outside the audit database: the chain must still reach it. */
  anchor?: AuditAnchor | null;
  /** Anchors the keeper found skipped by another (see contracts `auditAnchor.prev`): checked the same way. */
  skipped?: AuditAnchor[];
}

/** A walk's verdict, where it started, and the head it walked to (null: no head stored). */
export type ChainWalk = Omit<ChainVerification, 'checkpoints' | 'keyed' | 'anchor' | 'unanchored_records'> & { head: ChainTip | null };

/**
 * Checks the stored chain in one streaming pass in seq order (the rules are in ChainVerifier). The head
 * is read first, so records appended while the pass runs are tolerated.
 *
 * Incremental: the walk starts after the latest checkpoint (at or below the head) whose mac checks and
 * whose record still carries the checkpoint's hash, its content still hashing to it (one read by the
 * unique `seq`), so a verify walks only
 * what was appended since. A checkpoint failing either test is skipped for the one below it; none left:
 * a walk from the first record. It trusts the checkpoints: an edit or a deletion below the start is seen
 * only by a full walk (`full`), which ignores them.
 *
 * The walk reads a block of consecutive records at a time (one query by `block`, ./seq-lookups.ts;
 * records stored before blocks existed a few at a time by seq) up to the first seq not found past the
 * head: records past a gap beyond the head are left to the next walks (the writer chains past them, so
 * the gap becomes a missing record below the head). A gap below the head is read past with keyset pages,
 * which report it exactly.
 *
 * Every record the walk passes at a multiple of `checkpointEvery`, and the head's record, becomes a
 * checkpoint as soon as its page is checked (everything from the start up to it is then verified), even
 * if the walk fails further on. Insert-only with `_id` = seq: a duplicate (another replica, or an older
 * checkpoint at that seq) is left as it is.
 */
export async function walkStoredChain(
  models: AuditModels,
  chainKey: string | null,
  options: VerifyStoredChainOptions = {},
): Promise<ChainWalk> {
  const every = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  const stored = await models.chainHead.findById(CHAIN_HEAD_ID).lean();
  const head: ChainTip | null = stored ? { seq: stored.seq, hash: stored.hash } : null;
  // A head the service did not sign says nothing about where the chain ends: no walk, no checkpoints.
  const forged = headFault(stored, chainKey);
  if (forged) return { ok: false, checked: 0, first_bad: forged, from_checkpoint: 0, head };
  const start = options.full || !head ? null : await trustedCheckpoint(models, chainKey, head);
  const verifier = new ChainVerifier(head, chainKey, start);
  const checkpointable = (record: AuditRecord) => head !== null && record.seq <= head.seq && (record.seq % every === 0 || record.seq === head.seq);
  let after = start?.seq ?? 0;
  // Blocks, not `$gt` pages: FerretDB v1 pushes down equalities only, and a page there reads the whole table.
  let byPages = false;
  while (!verifier.failed) {
    const from = after + 1;
    const { run, more } = await blockRunFrom<AuditRecord>(models, from);
    const passed: ChainTip[] = [];
    for (const record of run) {
      if (!verifier.check(record)) break;
      if (checkpointable(record)) passed.push({ seq: record.seq, hash: record.hash });
      after = record.seq;
    }
    await storeCheckpoints(models, chainKey, passed);
    if (!more) {
      // The next seq is missing. Past the head: the end of the chain. At or below it, or with no head to
      // say where the chain ends: perhaps a gap, which pages from here report exactly.
      byPages = head === null || from + run.length <= head.seq;
      break;
    }
  }
  while (byPages && !verifier.failed) {
    // Keyset pages by seq rather than one long cursor: no server cursor kept open during a long verify.
    const batch = await models.records.find({ seq: { $gt: after } }).sort({ seq: 1 }).limit(VERIFY_BATCH).lean<AuditRecord[]>();
    const passed: ChainTip[] = [];
    for (const record of batch) {
      if (!verifier.check(record)) break;
      if (checkpointable(record)) passed.push({ seq: record.seq, hash: record.hash });
    }
    await storeCheckpoints(models, chainKey, passed);
    if (batch.length < VERIFY_BATCH) break;
    after = batch.at(-1)!.seq;
  }
  return { ...verifier.result(), from_checkpoint: start?.seq ?? 0, head };
}

/**
 * The walk, then the anchor and any skipped ones (when the walk passed): the chain must still reach each
 * (one read by seq apiece).
 * The answer says how far anchors cover the chain: records past the anchor could still be cut off
 * unnoticed, with the head set back to a signed head the service once wrote, until the next anchor.
 * With no key every mac is plain SHA-256: `keyed: false`, and nothing here resists a writer who knows that.
 */
export async function verifyStoredChain(models: AuditModels, chainKey: string | null, options: VerifyStoredChainOptions = {}): Promise<ChainVerification> {
  const { head, ...walked } = await walkStoredChain(models, chainKey, options);
  const anchor = options.anchor ?? null;
  let verdict: Pick<ChainVerification, 'ok' | 'first_bad'> = walked;
  for (const checked of walked.ok ? [...(anchor ? [anchor] : []), ...(options.skipped ?? [])] : []) {
    const record = head && head.seq >= checked.seq ? await models.records.findOne({ seq: checked.seq }).lean<AuditRecord>() : null;
    const fault = anchorFault(checked, head, record, chainKey);
    if (fault) {
      verdict = { ok: false, first_bad: fault };
      break;
    }
  }
  return {
    ...walked,
    ...verdict,
    checkpoints: await models.checkpoints.countDocuments({}),
    keyed: chainKey !== null,
    anchor: anchor ? { seq: anchor.seq, anchored_at: anchor.anchored_at } : null,
    unanchored_records: Math.max(0, (head?.seq ?? 0) - (anchor?.seq ?? 0)),
  };
}

/** The latest checkpoint at or below the head that is signed and still names its record; null: none. */
async function trustedCheckpoint(models: AuditModels, chainKey: string | null, head: ChainTip): Promise<ChainStart | null> {
  let below = head.seq + 1;
  for (;;) {
    const batch = await models.checkpoints
      .find({ _id: { $lt: below } })
      .sort({ _id: -1 })
      .limit(CHECKPOINT_BATCH)
      .lean<ChainCheckpointDocument[]>();
    for (const checkpoint of batch) {
      if (checkpoint.seq !== checkpoint._id || checkpoint.mac !== checkpointMac(checkpoint.seq, checkpoint.hash, chainKey)) continue;
      // The record must still carry the hash, and its content must still hash to it (an edit of the
      // checkpoint's own record is not behind the walk's start).
      const record = await models.records.findOne({ seq: checkpoint.seq }).lean<AuditRecord>();
      if (record && record.hash === checkpoint.hash && hashRecord(record, chainKey) === record.hash) return { seq: record.seq, hash: record.hash, id: record._id };
    }
    if (batch.length < CHECKPOINT_BATCH) return null;
    below = batch.at(-1)!._id;
  }
}

async function storeCheckpoints(models: AuditModels, chainKey: string | null, tips: ChainTip[]): Promise<void> {
  for (const tip of tips) {
    const checkpoint: ChainCheckpointDocument = { _id: tip.seq, seq: tip.seq, hash: tip.hash, verified_at: new Date(), mac: checkpointMac(tip.seq, tip.hash, chainKey) };
    try {
      await models.checkpoints.collection.insertOne(checkpoint as never);
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
  }
}
