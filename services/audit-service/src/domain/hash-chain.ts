import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { AuditEntry } from './audit-record';

/**
 * The tamper-evident chain: record n carries `seq = n`, the hash of record n-1 (`prev_hash`) and its own
 * `hash = sha256(canonical JSON of every content field, seq and prev_hash)`. Editing a record breaks its
 * hash; deleting one leaves a seq gap (or, if renumbered, a prev_hash that no longer matches); moving one
 * changes its seq (which is hashed); cutting the tail leaves the chain head pointing past the last record.
 */
export interface AuditRecord extends AuditEntry {
  seq: number;
  prev_hash: string;
  hash: string;
}

/** The last link: what the next record chains from; also the persisted chain head. */
export interface ChainTip {
  seq: number;
  hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

/** Fields covered by the hash (all but `hash` itself). A fixed list: the stored field order never matters. */
const HASHED_FIELDS = [
  '_id', 'seq', 'prev_hash', 'action', 'event_type', 'occurred_at', 'recorded_at', 'day', 'payment_id', 'order_id', 'user_id',
  'amount_minor', 'currency', 'transaction_id', 'provider', 'reason', 'error', 'verify_ms', 'correlation_id', 'causation_id',
  'producer', 'data',
] as const satisfies readonly (keyof Omit<AuditRecord, 'hash'>)[];

/** JSON with object keys sorted at every level and dates as ISO strings: one text per content. */
export function canonicalJson(value: unknown): string {
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, inner]) => inner !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * SHA-256 of the canonical content, or HMAC-SHA256 with the chain key when one is configured
 * (AUDIT_CHAIN_KEY): without the key, someone who can write the database cannot recompute a valid chain
 * after editing it. The key must stay the same for the life of a chain.
 */
export function hashRecord(record: Omit<AuditRecord, 'hash'>, key: string | null = null): string {
  const content: Record<string, unknown> = {};
  for (const field of HASHED_FIELDS) content[field] = record[field] ?? null;
  const digest = key ? createHmac('sha256', key) : createHash('sha256');
  return digest.update(canonicalJson(content), 'utf8').digest('hex');
}

/** The record that follows `tip` (null: the first record, chained from the genesis hash). */
export function chainNext(entry: AuditEntry, tip: ChainTip | null, key: string | null = null): AuditRecord {
  const linked = { ...entry, seq: (tip?.seq ?? 0) + 1, prev_hash: tip?.hash ?? GENESIS_HASH };
  return { ...linked, hash: hashRecord(linked, key) };
}

export function buildChain(entries: AuditEntry[], key: string | null = null): AuditRecord[] {
  const records: AuditRecord[] = [];
  for (const entry of entries) records.push(chainNext(entry, records.at(-1) ?? null, key));
  return records;
}

export type ChainProblem =
  | 'hash_mismatch' // the record's content (or seq, or prev_hash) was edited
  | 'missing_record' // a seq is missing: a record was deleted
  | 'out_of_order' // a seq repeats or goes backwards
  | 'prev_hash_mismatch' // the link to the previous record is broken: deleted and renumbered, inserted or moved
  | 'head_mismatch' // the chain head names a different record at its seq
  | 'truncated_tail' // the chain head is past the last record: records were cut off the end
  | 'head_missing' // records exist but the chain head was removed
  | 'head_forged' // the chain head's mac does not check: written by someone without the chain key
  | 'anchor_forged' // the anchor's mac does not check: it was not published by the audit service
  | 'anchor_mismatch' // the record at the anchor's seq is not the one anchored (replaced or edited)
  | 'truncated_below_anchor'; // the chain ends before a point anchored outside the database: cut off

export interface ChainFault {
  seq: number;
  /** The offending record's id; null when the record at `seq` is gone. */
  id: string | null;
  problem: ChainProblem;
  detail: string;
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  first_bad?: ChainFault;
}

/**
 * A checkpoint: "the chain was verified up to record `seq`, whose hash is `hash`". Its `mac` is
 * HMAC-SHA256 over `seq|hash` with the chain key, or plain SHA-256 without one (as the records: unkeyed,
 * anyone who can write the database can forge a checkpoint too).
 */
export function checkpointMac(seq: number, hash: string, key: string | null = null): string {
  return macOf(`${seq}|${hash}`, key);
}

/**
 * The chain head's mac, over `head|seq|hash`; an anchor's, over `anchor|seq|hash`. Each kind of signed
 * statement has its own text (a checkpoint's is untagged `seq|hash`), so none can be copied as another:
 * a verified checkpoint at the seq a tail was cut back to does not make a valid head there.
 */
export function headMac(seq: number, hash: string, key: string | null = null): string {
  return macOf(`head|${seq}|${hash}`, key);
}

export function anchorMac(seq: number, hash: string, key: string | null = null): string {
  return macOf(`anchor|${seq}|${hash}`, key);
}

function macOf(text: string, key: string | null): string {
  const digest = key ? createHmac('sha256', key) : createHash('sha256');
  return digest.update(text, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex macs (a stored or received one against the expected one). */
export function macMatches(received: unknown, expected: string): boolean {
  if (typeof received !== 'string' || received.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(received, 'utf8'), Buffer.from(expected, 'utf8'));
}

/** The stored chain head: the tip plus its mac (absent on a head written before heads were signed). */
export interface SignedTip extends ChainTip {
  mac?: string | null;
}

/**
 * A head whose mac does not check was not written by the audit service (or by one with another key):
 * whoever cut the tail set it. A head is re-signed with every advance, so this only catches a head moved
 * to a point it never held with that mac; a replayed earlier head is what the anchors catch.
 */
export function headFault(head: SignedTip | null, key: string | null = null): ChainFault | null {
  if (!head || macMatches(head.mac, headMac(head.seq, head.hash, key))) return null;
  return { seq: head.seq, id: null, problem: 'head_forged', detail: 'the chain head\'s mac does not check: it was not written by the audit service' };
}

/** A point of the chain published outside the audit database (contracts `auditAnchor`). */
export interface ChainAnchor extends ChainTip {
  mac: string;
}

/**
 * Checks the stored chain still reaches an anchor: the anchor is signed, the head is at or past it, and
 * the record at its seq is still the anchored one (same hash, content still hashing to it). `record` is
 * the stored record at `anchor.seq`, null when none. Records past the anchor are not covered by it.
 */
export function anchorFault(anchor: ChainAnchor, head: ChainTip | null, record: AuditRecord | null, key: string | null = null): ChainFault | null {
  if (!macMatches(anchor.mac, anchorMac(anchor.seq, anchor.hash, key))) {
    return { seq: anchor.seq, id: null, problem: 'anchor_forged', detail: 'the anchor\'s mac does not check: it was not published by the audit service' };
  }
  if (!head || head.seq < anchor.seq || !record) {
    return {
      seq: anchor.seq,
      id: null,
      problem: 'truncated_below_anchor',
      detail: `records up to seq ${anchor.seq} were anchored, but the chain ${head ? `ends at seq ${head.seq}` : 'is empty'}${head && head.seq >= anchor.seq ? ` and has no record ${anchor.seq}` : ''}`,
    };
  }
  if (record.hash !== anchor.hash || hashRecord(record, key) !== record.hash) {
    return { seq: anchor.seq, id: record._id, problem: 'anchor_mismatch', detail: 'the record at the anchor\'s seq is not the one anchored' };
  }
  return null;
}

/** Where a walk resumes: a verified record (its seq, hash and id), the walk checks what follows it. */
export interface ChainStart extends ChainTip {
  id: string;
}

/**
 * Walks records in seq order and stops at the first fault, so a collection of any size is checked in one
 * streaming pass (the repository feeds it batch by batch). The head may lag the last record by the
 * records a crash left between "record inserted" and "head advanced": that is tolerated as long as the
 * record at the head's seq carries the head's hash.
 */
export class ChainVerifier {
  private last: (ChainTip & { id: string }) | null = null;
  private checkedCount = 0;
  private fault: ChainFault | null = null;

  /**
   * `start`: resume after a record already verified (a checkpoint) instead of from the genesis: the first
   * record fed must then be `start.seq + 1`, chained from `start.hash`.
   */
  constructor(
    private readonly head: ChainTip | null,
    private readonly key: string | null = null,
    start: ChainStart | null = null,
  ) {
    if (!start) return;
    this.last = { seq: start.seq, hash: start.hash, id: start.id };
    if (head && head.seq === start.seq && head.hash !== start.hash) {
      this.fault = { seq: start.seq, id: start.id, problem: 'head_mismatch', detail: 'the chain head names a different record at this seq' };
    }
  }

  /** The last record that passed (or the start); null before any. */
  get lastChecked(): ChainTip | null {
    return this.last ? { seq: this.last.seq, hash: this.last.hash } : null;
  }

  get failed(): boolean {
    return this.fault !== null;
  }

  /** Checks the next record; false once a fault is found (stop feeding). */
  check(record: AuditRecord): boolean {
    if (this.fault) return false;
    this.checkedCount += 1;
    const expectedSeq = (this.last?.seq ?? 0) + 1;
    if (record.seq > expectedSeq) {
      return this.fail({ seq: expectedSeq, id: null, problem: 'missing_record', detail: `records ${expectedSeq}..${record.seq - 1} are missing before ${record._id}` });
    }
    if (record.seq < expectedSeq) {
      return this.fail({ seq: record.seq, id: record._id, problem: 'out_of_order', detail: `seq ${record.seq} found where ${expectedSeq} was expected` });
    }
    if (hashRecord(record, this.key) !== record.hash) {
      return this.fail({ seq: record.seq, id: record._id, problem: 'hash_mismatch', detail: 'the record content does not match its hash (edited)' });
    }
    if (record.prev_hash !== (this.last?.hash ?? GENESIS_HASH)) {
      return this.fail({ seq: record.seq, id: record._id, problem: 'prev_hash_mismatch', detail: 'the record does not chain from the record before it' });
    }
    if (this.head && record.seq === this.head.seq && record.hash !== this.head.hash) {
      return this.fail({ seq: record.seq, id: record._id, problem: 'head_mismatch', detail: 'the chain head names a different record at this seq' });
    }
    this.last = { seq: record.seq, hash: record.hash, id: record._id };
    return true;
  }

  result(): VerifyResult {
    if (!this.fault) this.checkEnd();
    return this.fault ? { ok: false, checked: this.checkedCount, first_bad: this.fault } : { ok: true, checked: this.checkedCount };
  }

  private checkEnd(): void {
    const lastSeq = this.last?.seq ?? 0;
    if (this.head && this.head.seq > lastSeq) {
      this.fault = {
        seq: lastSeq + 1,
        id: null,
        problem: 'truncated_tail',
        detail: `the chain head is at seq ${this.head.seq} but the last record is seq ${lastSeq}`,
      };
    } else if (!this.head && this.last) {
      this.fault = { seq: lastSeq, id: this.last.id, problem: 'head_missing', detail: 'records exist but the chain head is missing' };
    }
  }

  private fail(fault: ChainFault): false {
    this.fault = fault;
    return false;
  }
}

/** Verifies a whole chain held in memory (records in the order they are stored by seq). */
export function verifyChain(records: AuditRecord[], head: ChainTip | null, key: string | null = null): VerifyResult {
  const verifier = new ChainVerifier(head, key);
  for (const record of records) if (!verifier.check(record)) break;
  return verifier.result();
}
