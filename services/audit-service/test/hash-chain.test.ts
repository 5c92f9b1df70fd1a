import { buildAuditEntry } from '../src/domain/audit-record';
import {
  anchorFault,
  anchorMac,
  buildChain,
  canonicalJson,
  chainNext,
  ChainVerifier,
  checkpointMac,
  GENESIS_HASH,
  hashRecord,
  headFault,
  headMac,
  verifyChain,
  type AuditRecord,
} from '../src/domain/hash-chain';
import { paymentCreated } from './audit-fixtures';

function chainOf(length: number): AuditRecord[] {
  const entries = Array.from({ length }, (_, i) => buildAuditEntry(paymentCreated(i + 1, '2024-03-15T10:00:00.000Z'), new Date('2024-03-15T10:00:01Z')));
  return buildChain(entries);
}

const headOf = (records: AuditRecord[]) => ({ seq: records.at(-1)!.seq, hash: records.at(-1)!.hash });

describe('canonical JSON', () => {
  it('writes the same text whatever the key order, with dates as ISO strings', () => {
    const at = new Date('2024-03-15T10:00:00Z');
    expect(canonicalJson({ b: 1, a: { d: [1, { z: null, y: at }], c: 'x' } })).toBe(canonicalJson({ a: { c: 'x', d: [1, { y: at, z: null }] }, b: 1 }));
    expect(canonicalJson({ a: at, u: undefined })).toBe('{"a":"2024-03-15T10:00:00.000Z"}');
  });
});

describe('the hash chain', () => {
  it('starts from the genesis hash and links each record to the one before', () => {
    const records = chainOf(3);
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(records[0]!.prev_hash).toBe(GENESIS_HASH);
    expect(records[1]!.prev_hash).toBe(records[0]!.hash);
    expect(records[2]!.prev_hash).toBe(records[1]!.hash);
    expect(records[0]!.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hashes the same content to the same value however its fields are ordered', () => {
    const [record] = chainOf(1);
    const reversed = Object.fromEntries(Object.entries(record!).reverse()) as unknown as AuditRecord;
    expect(hashRecord(reversed)).toBe(record!.hash);
  });

  it('continues from a given tip', () => {
    const [first] = chainOf(1);
    const next = chainNext(buildAuditEntry(paymentCreated(9, '2024-03-15T11:00:00.000Z'), new Date()), { seq: first!.seq, hash: first!.hash });
    expect(next).toMatchObject({ seq: 2, prev_hash: first!.hash });
  });

  it('verifies an untouched chain', () => {
    const records = chainOf(5);
    expect(verifyChain(records, headOf(records))).toEqual({ ok: true, checked: 5 });
    expect(verifyChain([], null)).toEqual({ ok: true, checked: 0 });
  });

  it('detects an edited record and names its seq', () => {
    const records = chainOf(5);
    const head = headOf(records);
    records[2] = { ...records[2]!, amount_minor: 1 };
    expect(verifyChain(records, head)).toMatchObject({ ok: false, checked: 3, first_bad: { seq: 3, id: records[2]!._id, problem: 'hash_mismatch' } });
  });

  it('detects an edit inside the event data', () => {
    const records = chainOf(3);
    const head = headOf(records);
    records[1] = { ...records[1]!, data: { ...records[1]!.data, amountMinor: 1 } };
    expect(verifyChain(records, head).first_bad).toMatchObject({ seq: 2, problem: 'hash_mismatch' });
  });

  it('detects a deleted record as a gap at its seq', () => {
    const records = chainOf(5);
    const head = headOf(records);
    records.splice(2, 1);
    expect(verifyChain(records, head)).toMatchObject({ ok: false, first_bad: { seq: 3, id: null, problem: 'missing_record' } });
  });

  it('detects a deleted record even when the records after it were renumbered and rehashed', () => {
    const records = chainOf(5);
    const head = headOf(records);
    const forged = records.slice(0, 2);
    for (const original of records.slice(3)) {
      const { hash: _hash, ...content } = { ...original, seq: original.seq - 1 };
      forged.push({ ...content, hash: hashRecord(content) });
    }
    expect(verifyChain(forged, head).first_bad).toMatchObject({ seq: 3, problem: 'prev_hash_mismatch' });
  });

  it('detects two records that swapped places', () => {
    const records = chainOf(5);
    const head = headOf(records);
    const swapped = [records[0]!, { ...records[2]!, seq: 2 }, { ...records[1]!, seq: 3 }, records[3]!, records[4]!];
    expect(verifyChain(swapped, head)).toMatchObject({ ok: false, first_bad: { seq: 2, problem: 'hash_mismatch' } });
    expect(verifyChain([records[0]!, records[2]!, records[1]!, records[3]!, records[4]!], head).ok).toBe(false);
  });

  it('detects records cut off the end through the chain head', () => {
    const records = chainOf(5);
    const head = headOf(records);
    expect(verifyChain(records.slice(0, 3), head)).toMatchObject({ ok: false, checked: 3, first_bad: { seq: 4, id: null, problem: 'truncated_tail' } });
    expect(verifyChain([], head).first_bad).toMatchObject({ seq: 1, problem: 'truncated_tail' });
  });

  it('tolerates a head that lags the last record (a crash between insert and head update)', () => {
    const records = chainOf(5);
    expect(verifyChain(records, { seq: 4, hash: records[3]!.hash })).toEqual({ ok: true, checked: 5 });
  });

  it('refuses a head whose hash does not match the record at its seq', () => {
    const records = chainOf(5);
    expect(verifyChain(records, { seq: 4, hash: records[2]!.hash }).first_bad).toMatchObject({ seq: 4, problem: 'head_mismatch' });
    expect(verifyChain(records, null).first_bad).toMatchObject({ seq: 5, problem: 'head_missing' });
  });
});

describe('the keyed hash chain (AUDIT_CHAIN_KEY)', () => {
  const key = 'test-fixture-chain-key-0123456789abcdef';
  const keyedChain = (length: number) =>
    buildChain(
      Array.from({ length }, (_, i) => buildAuditEntry(paymentCreated(i + 1, '2024-03-15T10:00:00.000Z'), new Date('2024-03-15T10:00:01Z'))),
      key,
    );

  it('verifies with its key and not without it', () => {
    const records = keyedChain(4);
    expect(verifyChain(records, headOf(records), key)).toEqual({ ok: true, checked: 4 });
    expect(verifyChain(records, headOf(records)).ok).toBe(false);
  });

  it('detects an edit whose writer recomputed every hash, head included, without the key', () => {
    const records = keyedChain(4);
    const forged: AuditRecord[] = [];
    for (const original of records) {
      const edited = original.seq === 2 ? { ...original, amount_minor: 1 } : original;
      const { hash: _hash, ...content } = { ...edited, prev_hash: forged.at(-1)?.hash ?? GENESIS_HASH };
      forged.push({ ...content, hash: hashRecord(content) });
    }
    expect(verifyChain(forged, headOf(forged), key)).toMatchObject({ ok: false, first_bad: { seq: 1, problem: 'hash_mismatch' } });
    // The same rewrite goes unnoticed on an unkeyed chain: that is what the key is for.
    expect(verifyChain(forged, headOf(forged)).ok).toBe(true);
  });
});

describe('resuming from a checkpoint', () => {
  const startOf = (record: AuditRecord) => ({ seq: record.seq, hash: record.hash, id: record._id });
  const walk = (verifier: ChainVerifier, records: AuditRecord[]) => {
    for (const record of records) if (!verifier.check(record)) break;
    return verifier.result();
  };

  it('checks only the records after the start, linked to it', () => {
    const records = chainOf(6);
    expect(walk(new ChainVerifier(headOf(records), null, startOf(records[3]!)), records.slice(4))).toEqual({ ok: true, checked: 2 });
    expect(walk(new ChainVerifier(headOf(records), null, startOf(records[3]!)), records.slice(5)).first_bad).toMatchObject({ seq: 5, problem: 'missing_record' });
    expect(walk(new ChainVerifier(headOf(records), null, startOf(records[2]!)), records.slice(4)).first_bad).toMatchObject({ seq: 4, problem: 'missing_record' });
    expect(walk(new ChainVerifier(headOf(records), null, startOf(records.at(-1)!)), [])).toEqual({ ok: true, checked: 0 });
  });

  it('refuses a head whose hash differs at the start seq, or a missing head', () => {
    const records = chainOf(3);
    expect(walk(new ChainVerifier({ seq: 3, hash: records[1]!.hash }, null, startOf(records[2]!)), []).first_bad).toMatchObject({ seq: 3, problem: 'head_mismatch' });
    expect(walk(new ChainVerifier(null, null, startOf(records[2]!)), []).first_bad).toMatchObject({ seq: 3, problem: 'head_missing' });
  });

  it('signs a checkpoint over seq and hash, with the key when there is one', () => {
    const hash = 'a'.repeat(64);
    expect(checkpointMac(7, hash)).toMatch(/^[0-9a-f]{64}$/);
    expect(checkpointMac(7, hash)).not.toBe(checkpointMac(8, hash));
    expect(checkpointMac(7, hash, 'k'.repeat(32))).not.toBe(checkpointMac(7, hash));
  });
});

describe('the signed head and the anchors kept outside the database', () => {
  const key = 'test-fixture-chain-key-0123456789abcdef';
  const records = buildChain(
    Array.from({ length: 6 }, (_, i) => buildAuditEntry(paymentCreated(i + 1, '2024-03-15T10:00:00.000Z'), new Date('2024-03-15T10:00:01Z'))),
    key,
  );
  const signedHead = (record: AuditRecord) => ({ seq: record.seq, hash: record.hash, mac: headMac(record.seq, record.hash, key) });
  const anchorAt = (record: AuditRecord) => ({ seq: record.seq, hash: record.hash, mac: anchorMac(record.seq, record.hash, key) });

  it('accepts a head the service signed, and refuses one moved back to a survivor without the key', () => {
    expect(headFault(signedHead(records[5]!), key)).toBeNull();
    // Cut the tail, set the head to the last survivor: its old mac, an unkeyed mac or none does not check.
    const survivor = records[3]!;
    for (const mac of [headMac(records[5]!.seq, records[5]!.hash, key), headMac(survivor.seq, survivor.hash), undefined]) {
      expect(headFault({ seq: survivor.seq, hash: survivor.hash, mac }, key)).toMatchObject({ seq: 4, problem: 'head_forged' });
    }
    expect(headFault(null, key)).toBeNull();
  });

  it('keeps the head, anchor and checkpoint macs apart: none passes as another', () => {
    const record = records[3]!;
    const macs = [headMac(record.seq, record.hash, key), anchorMac(record.seq, record.hash, key), checkpointMac(record.seq, record.hash, key)];
    expect(new Set(macs).size).toBe(3);
    expect(headFault({ seq: record.seq, hash: record.hash, mac: checkpointMac(record.seq, record.hash, key) }, key)?.problem).toBe('head_forged');
    expect(anchorFault({ ...anchorAt(record), mac: headMac(record.seq, record.hash, key) }, signedHead(records[5]!), record, key)?.problem).toBe('anchor_forged');
  });

  it('passes when the chain still reaches the anchor, however far past it', () => {
    expect(anchorFault(anchorAt(records[3]!), signedHead(records[5]!), records[3]!, key)).toBeNull();
    expect(anchorFault(anchorAt(records[5]!), signedHead(records[5]!), records[5]!, key)).toBeNull();
  });

  it('reports a chain cut below the anchor: head before it, or no chain at all', () => {
    expect(anchorFault(anchorAt(records[4]!), signedHead(records[2]!), null, key)).toMatchObject({ seq: 5, problem: 'truncated_below_anchor' });
    expect(anchorFault(anchorAt(records[4]!), null, null, key)).toMatchObject({ seq: 5, problem: 'truncated_below_anchor' });
    expect(anchorFault(anchorAt(records[4]!), signedHead(records[5]!), null, key)).toMatchObject({ seq: 5, problem: 'truncated_below_anchor' });
  });

  it('reports another record at the anchor’s seq, or one edited since', () => {
    expect(anchorFault(anchorAt(records[4]!), signedHead(records[5]!), records[3]!, key)?.problem).toBe('anchor_mismatch');
    expect(anchorFault(anchorAt(records[4]!), signedHead(records[5]!), { ...records[4]!, amount_minor: 1 }, key)?.problem).toBe('anchor_mismatch');
  });

  it('refuses an anchor not signed with the chain key', () => {
    const unsigned = { ...anchorAt(records[4]!), mac: anchorMac(records[4]!.seq, records[4]!.hash) };
    expect(anchorFault(unsigned, signedHead(records[5]!), records[4]!, key)).toMatchObject({ seq: 5, problem: 'anchor_forged' });
  });
});
