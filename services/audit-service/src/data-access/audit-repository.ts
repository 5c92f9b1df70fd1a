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
import { GroupCommit, SingleFlight } from './group-commit';
import { DEFAULT_CHECKPOINT_EVERY, verifyStoredChain, walkStoredChain } from './verify-stored-chain';

export interface AuditRepositoryOptions extends ChainWriterOptions {
  /** Records between checkpoints (AUDIT_CHECKPOINT_EVERY): the append of every such seq verifies up to it. */
  checkpointEvery?: number;
  /** Most entries appended in one run (one insert); more wait for the next run. */
  maxAppendRun?: number;
  /** Least time between the starts of two runs (AUDIT_APPEND_INTERVAL_MS; see GroupCommit). */
  appendIntervalMs?: number;
}

const DEFAULT_APPEND_RUN = 200;

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
  /** Entries waiting for the append in progress to finish: they go together in the next one. */
  private readonly appends: GroupCommit<AuditEntry, AppendOutcome>;
  /** This writer's appends not folded yet, in seq order: usually the next records to fold. */
  private justAppended: AuditRecord[] = [];
  /** Folds run one at a time; a call made during one joins the next (which sees its appends). */
  private readonly folds: SingleFlight<number>;
  /** The highest seq this writer has handed to a fold (the one under way, or one before it). */
  private handedToFold = 0;

  constructor(
    private readonly models: AuditModels,
    options: AuditRepositoryOptions = {},
  ) {
    this.chain = new ChainWriter(models, options);
    this.folder = new StatsFolder(models);
    this.queries = new AuditQueries(models);
    this.chainKey = options.chainKey ?? null;
    this.checkpointEvery = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    this.appends = new GroupCommit((entries) => this.appendRun(entries), options.maxAppendRun ?? DEFAULT_APPEND_RUN, options.appendIntervalMs ?? 0);
    this.folds = new SingleFlight(() => {
      const justAppended = this.justAppended;
      this.justAppended = [];
      if (justAppended.length > 0) this.handedToFold = justAppended.at(-1)!.seq;
      return this.folder.foldPending(justAppended);
    });
  }

  /**
   * Appends wait for the one in progress and then go together, as one run (group commit): with several
   * events in hand the chain costs one insert and one head advance per run instead of per event.
   */
  append(entry: AuditEntry): Promise<AppendOutcome> {
    return this.appends.submit(entry);
  }

  private async appendRun(entries: AuditEntry[]): Promise<AppendOutcome[]> {
    const outcomes = await this.chain.appendMany(entries);
    const appended = outcomes.flatMap((outcome) => (outcome.status === 'appended' ? [outcome.record] : []));
    // Runs are written one at a time and each chains after the last: seqs only grow, no sort needed.
    this.justAppended.push(...appended);
    if (appended.some((record) => record.seq % this.checkpointEvery === 0)) await this.checkpointUpTo();
    return outcomes;
  }

  repairHead(): Promise<number> {
    return this.chain.repairHead();
  }

  /**
   * Callers that join one fold share its count (see SingleFlight). A run's appends all resolve at once
   * and each caller asks for a fold: the first starts one that takes the whole run, and the others wait
   * for that one. Sent to the next fold instead, they would start one with nothing handed to it, which
   * looks up records past the end of the chain (16 lookups and a head read, to find nothing).
   */
  foldPending(appendedSeq?: number): Promise<number> {
    const running = this.folds.running();
    if (running && appendedSeq !== undefined && this.handedToFold >= appendedSeq) return running;
    return this.folds.run();
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
