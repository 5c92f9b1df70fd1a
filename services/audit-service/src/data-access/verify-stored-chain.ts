import { ChainVerifier, type AuditRecord, type VerifyResult } from '../domain/hash-chain';
import { CHAIN_HEAD_ID, type AuditModels } from './audit-models';

const VERIFY_BATCH = 500;

/**
 * Checks the stored chain in one streaming pass in seq order (the rules are in ChainVerifier). The head
 * is read first, so records appended while the pass runs are tolerated.
 */
export async function verifyStoredChain(models: AuditModels, chainKey: string | null): Promise<VerifyResult> {
  const head = await models.chainHead.findById(CHAIN_HEAD_ID).lean();
  const verifier = new ChainVerifier(head ? { seq: head.seq, hash: head.hash } : null, chainKey);
  let after = 0;
  for (;;) {
    // Keyset pages by seq rather than one long cursor: no server cursor kept open during a long verify.
    const batch = await models.records.find({ seq: { $gt: after } }).sort({ seq: 1 }).limit(VERIFY_BATCH).lean<AuditRecord[]>();
    for (const record of batch) if (!verifier.check(record)) return verifier.result();
    if (batch.length < VERIFY_BATCH) return verifier.result();
    after = batch.at(-1)!.seq;
  }
}
