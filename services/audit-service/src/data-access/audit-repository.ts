import type { AuditEntry } from '../domain/audit-record';
import type { AppendOutcome, AuditFilter, AuditStore } from '../domain/audit-store';
import type { DayStats } from '../domain/daily-stats';
import type { AuditRecord, VerifyResult } from '../domain/hash-chain';
import type { ReconciliationRow } from '../domain/reconciliation';
import type { AuditModels } from './audit-models';
import { AuditQueries } from './audit-queries';
import { ChainWriter, type ChainWriterOptions } from './chain-writer';
import { StatsFolder } from './stats-folder';
import { verifyStoredChain } from './verify-stored-chain';

export type AuditRepositoryOptions = ChainWriterOptions;

/**
 * The audit store on the audit database: the chain writer appends, the stats folder keeps the report
 * projections, verify walks the stored chain, the queries read. Safe with any number of replicas on
 * one database (see each part for why).
 */
export class AuditRepository implements AuditStore {
  private readonly chain: ChainWriter;
  private readonly folder: StatsFolder;
  private readonly queries: AuditQueries;
  private readonly chainKey: string | null;
  /** This writer's last append, not folded yet: usually the next record to fold. */
  private justAppended: AuditRecord | null = null;

  constructor(
    private readonly models: AuditModels,
    options: AuditRepositoryOptions = {},
  ) {
    this.chain = new ChainWriter(models, options);
    this.folder = new StatsFolder(models);
    this.queries = new AuditQueries(models);
    this.chainKey = options.chainKey ?? null;
  }

  async append(entry: AuditEntry): Promise<AppendOutcome> {
    const outcome = await this.chain.append(entry);
    if (outcome.status === 'appended') this.justAppended = outcome.record;
    return outcome;
  }

  repairHead(): Promise<number> {
    return this.chain.repairHead();
  }

  foldPending(): Promise<number> {
    const justAppended = this.justAppended;
    this.justAppended = null;
    return this.folder.foldPending(justAppended);
  }

  verify(): Promise<VerifyResult> {
    return verifyStoredChain(this.models, this.chainKey);
  }

  list(filter: AuditFilter, page: number, pageSize: number): Promise<{ items: AuditRecord[]; count: number }> {
    return this.queries.list(filter, page, pageSize);
  }

  dayStats(day: string): Promise<DayStats> {
    return this.queries.dayStats(day);
  }

  callbackTimes(day: string): Promise<number[]> {
    return this.queries.callbackTimes(day);
  }

  reconciliationCandidates(day: string): Promise<ReconciliationRow[]> {
    return this.queries.reconciliationCandidates(day);
  }
}
