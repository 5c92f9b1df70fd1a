import type { AuditAnchor } from '@pay/contracts';
import type { AuditEntry } from './audit-record';
import type { DayStats } from './daily-stats';
import type { AuditRecord, VerifyResult } from './hash-chain';
import type { ReconciliationRow } from './reconciliation';

export type AppendOutcome = { status: 'appended'; record: AuditRecord } | { status: 'duplicate'; id: string };

/** A verify of the stored chain: the walk's result, where it started and how many checkpoints exist. */
export interface ChainVerification extends VerifyResult {
  /** The checkpoint seq the walk started after; 0 for a walk from the first record. */
  from_checkpoint: number;
  /** Checkpoints stored (after this verify stored its own). */
  checkpoints: number;
  /** The chain is HMAC-keyed (AUDIT_CHAIN_KEY); false: plain SHA-256, recomputable by anyone. */
  keyed: boolean;
  /** The anchor (kept outside the audit database) this verify compared against; null: none given. */
  anchor: { seq: number; anchored_at: string } | null;
  /** Records past the anchor: not covered by it (a cut there shows only once a later anchor exists). */
  unanchored_records: number;
}

/** The last anchor the service published, as the reports print it. */
export interface PublishedAnchor {
  seq: number;
  hash: string;
  anchored_at: Date;
}

/** The report projections recomputed from the records up to a verified seq. */
export interface RebuiltProjections {
  rebuilt_up_to: number;
  days: number;
  reconciliation_rows: number;
}

export type RebuildOutcome = ({ status: 'rebuilt' } & RebuiltProjections) | { status: 'refused'; verification: ChainVerification };

/** What the keeper of the anchors holds (the api-gateway passes it on): the latest, and those another skipped. */
export interface AnchorsGiven {
  anchor?: AuditAnchor | null;
  skipped?: AuditAnchor[];
}

export interface AuditFilter {
  paymentId?: string;
  orderId?: string;
  action?: string;
  from?: Date;
  to?: Date;
}

/** What the audit use cases need from storage (implemented in data-access/audit-repository.ts). */
export interface AuditStore {
  /**
   * Appends the entry at the end of the chain, exactly once per event id (a second append of the same id
   * is `duplicate` and changes nothing). Concurrent writers are serialised by the unique seq index.
   */
  append(entry: AuditEntry): Promise<AppendOutcome>;
  /** Brings the chain head up to the highest record (repairs a crash between insert and head update). */
  repairHead(): Promise<number>;
  /**
   * Folds appended records not yet counted into the daily stats and reconciliation, each exactly once
   * even with several replicas folding at the same time; resolves to how many this call counted.
   * `appendedSeq`: the record the caller has just appended; a fold under way that holds it is enough.
   * Without it (after a duplicate, or at start-up) the fold looks for anything left unfolded.
   */
  foldPending(appendedSeq?: number): Promise<number>;
  list(filter: AuditFilter, page: number, pageSize: number): Promise<{ items: AuditRecord[]; count: number }>;
  /**
   * Verifies the chain from the latest trusted checkpoint to the head (`full`: from the first record),
   * storing checkpoints along the way; see data-access/verify-stored-chain.ts.
   */
  verify(options?: { full?: boolean } & AnchorsGiven): Promise<ChainVerification>;
  /**
   * Recomputes the daily figures and reconciliation rows from the records and replaces the stored ones,
   * only once the whole chain verifies (a full walk, and reaching `anchor` when given); refused otherwise.
   */
  rebuildReports(anchors?: AnchorsGiven): Promise<RebuildOutcome>;
  /** The last anchor this service published (printed in every report); null: none yet. */
  lastPublishedAnchor(): Promise<PublishedAnchor | null>;
  dayStats(day: string): Promise<DayStats>;
  callbackTimes(day: string): Promise<number[]>;
  /** Rows that may not match as of the end of `day` (the pure `reconcile` makes the final cut). */
  reconciliationCandidates(day: string): Promise<ReconciliationRow[]>;
}
