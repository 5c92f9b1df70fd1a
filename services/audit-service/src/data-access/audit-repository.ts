import type { AuditEntry } from '../domain/audit-record';
import type { AnchorsGiven, AppendOutcome, AuditFilter, AuditStore, ChainVerification, PublishedAnchor, RebuildOutcome } from '../domain/audit-store';
import type { DayStats } from '../domain/daily-stats';
import type { AuditRecord } from '../domain/hash-chain';
import type { ReconciliationRow } from '../domain/reconciliation';
import { CHAIN_HEAD_ID, type AuditModels } from './audit-models';
import { AuditQueries } from './audit-queries';
import { ChainWriter, type ChainWriterOptions } from './chain-writer';
import { ReportRebuilder } from './report-rebuilder';
import { StatsFolder } from './stats-folder';
import { DEFAULT_CHECKPOINT_EVERY, verifyStoredChain, walkStoredChain } from './verify-stored-chain';

export interface AuditRepositoryOptions extends ChainWriterOptions {
  /** Records between checkpoints (AUDIT_CHECKPOINT_EVERY): the append of every such seq verifies up to it. */
  checkpointEvery?: number;
}

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
  private readonly checkpointEvery: number;
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
    this.checkpointEvery = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  }

  async append(entry: AuditEntry): Promise<AppendOutcome> {
    const outcome = await this.chain.append(entry);
    if (outcome.status === 'appended') {
      this.justAppended = outcome.record;
      if (outcome.record.seq % this.checkpointEvery === 0) await this.checkpointUpTo();
    }
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

  verify(options: { full?: boolean } & AnchorsGiven = {}): Promise<ChainVerification> {
    return verifyStoredChain(this.models, this.chainKey, { ...options, checkpointEvery: this.checkpointEvery });
  }

  /**
   * The head is read before the full walk: when the walk passes, every record up to it is verified (the
   * head only moves forward), so the projections are rebuilt from exactly those.
   */
  async rebuildReports(anchors: AnchorsGiven = {}): Promise<RebuildOutcome> {
    const upTo = (await this.models.chainHead.findById(CHAIN_HEAD_ID).lean())?.seq ?? 0;
    const verification = await this.verify({ ...anchors, full: true });
    if (!verification.ok) return { status: 'refused', verification };
    return { status: 'rebuilt', ...(await new ReportRebuilder(this.models).rebuild(upTo)) };
  }

  lastPublishedAnchor(): Promise<PublishedAnchor | null> {
    return this.queries.lastPublishedAnchor();
  }

  /**
   * Every `checkpointEvery` records, the writer of that seq verifies incrementally up to the head (about
   * `checkpointEvery` records), which stores the checkpoint: so `verify` never has far to walk. The record
   * is appended already: a failure here is left to the next verify, which walks the same range and reports.
   */
  private async checkpointUpTo(): Promise<void> {
    await walkStoredChain(this.models, this.chainKey, { checkpointEvery: this.checkpointEvery }).catch(() => undefined);
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
