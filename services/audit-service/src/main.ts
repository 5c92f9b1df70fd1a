import { createHttpApp } from '@pay/http';
import { runService } from '@pay/runtime';
import { auditConfigSchema } from './config';
import { auditModels } from './data-access/audit-models';
import { AuditRepository } from './data-access/audit-repository';
import { ChainAnchoring } from './data-access/chain-anchoring';
import { createAuditMetrics } from './entry-points/audit-metrics';
import { auditRoutes } from './entry-points/http/routes';
import { auditEventHandlers } from './entry-points/messaging/consumers';
import { auditServiceEvents } from './events';

void runService({
  name: 'audit-service',
  configSchema: auditConfigSchema,
  port: (config) => config.AUDIT_PORT,
  metricsPort: (config) => config.METRICS_PORT,
  database: 'audit',
  events: auditServiceEvents,
  // Served only to the API gateway's identity tokens for this service (INTERNAL_TOKEN_SECRET).
  acceptsGatewayIdentity: true,
  async build({ config, logger, metrics, broker, db, readiness, gatewayIdentity }) {
    const models = auditModels(db!);
    const store = new AuditRepository(models, {
      chainKey: config.AUDIT_CHAIN_KEY ?? null,
      checkpointEvery: config.AUDIT_CHECKPOINT_EVERY,
      appendIntervalMs: config.AUDIT_APPEND_INTERVAL_MS,
      // A run is full (and goes without waiting for the interval) at half the deliveries in hand: with a
      // backlog the other half arrives while one half is written, so a burst never waits.
      maxAppendRun: Math.max(1, Math.floor(config.CONSUMER_PREFETCH / 2)),
    });
    const anchoring = new ChainAnchoring(models, {
      chainKey: config.AUDIT_CHAIN_KEY ?? null,
      every: config.AUDIT_ANCHOR_EVERY,
      intervalMs: config.AUDIT_ANCHOR_INTERVAL_S * 1000,
      checkpointEvery: config.AUDIT_CHECKPOINT_EVERY,
      publish: (event) => broker!.publish(event),
      logger,
    });
    const auditMetrics = createAuditMetrics(metrics.registry);
    const app = createHttpApp({ service: 'audit-service', logger, metrics, readiness });
    app.use('/api/v1', gatewayIdentity(), auditRoutes({ store, logger }));
    return {
      app,
      async start() {
        // Finish what a crash may have interrupted (head behind the last record, records not folded).
        // Timed in the log: a start that keeps /readyz waiting says which step held it.
        const started = Date.now();
        const headSeq = await store.repairHead();
        auditMetrics.chainLength.set(headSeq);
        const repaired = Date.now();
        const folded = await store.foldPending();
        logger.info('start-up repairs done', { head_seq: headSeq, repair_head_ms: repaired - started, folded_records: folded, fold_ms: Date.now() - repaired });
        // Events in hand are appended together (group commit, in delivery order within this process);
        // the unique seq index serialises replicas.
        // No inbox: the record's _id is the event id, so any second copy of an event (a redelivery, or a
        // copy another replica appends at the same moment) fails its insert on that unique index and is a
        // duplicate; folding is once per record by `last_seq`. An inbox would add two writes per event.
        await broker!.consume(auditServiceEvents, auditEventHandlers(store, auditMetrics, logger, anchoring), { prefetch: config.CONSUMER_PREFETCH });
        anchoring.start();
      },
      background: [anchoring],
    };
  },
});
