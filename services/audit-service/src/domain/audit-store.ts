import type { AuditEntry } from './audit-record';
import type { DayStats } from './daily-stats';
import type { AuditRecord, VerifyResult } from './hash-chain';
import type { ReconciliationRow } from './reconciliation';

export type AppendOutcome = { status: 'appended'; record: AuditRecord } | { status: 'duplicate'; id: string };

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
   */
  foldPending(): Promise<number>;
  list(filter: AuditFilter, page: number, pageSize: number): Promise<{ items: AuditRecord[]; count: number }>;
  verify(): Promise<VerifyResult>;
  dayStats(day: string): Promise<DayStats>;
  callbackTimes(day: string): Promise<number[]>;
  /** Rows that may not match as of the end of `day` (the pure `reconcile` makes the final cut). */
  reconciliationCandidates(day: string): Promise<ReconciliationRow[]>;
}
