import { requireInternalIdentity } from '@pay/auth';
import { createInbox } from '@pay/db';
import { createHttpApp } from '@pay/http';
import { runService } from '@pay/runtime';
import { auditConfigSchema } from './config';
import { auditModels } from './data-access/audit-models';
import { AuditRepository } from './data-access/audit-repository';
import { createAuditMetrics } from './entry-points/audit-metrics';
import { auditRoutes } from './entry-points/http/routes';
import { auditEventHandlers } from './entry-points/messaging/consumers';
import { auditServiceEvents } from './events';

void runService({
  name: 'audit-service',
  configSchema: auditConfigSchema,
  port: (config) => config.AUDIT_PORT,
  database: 'audit',
  events: auditServiceEvents,
  async build({ config, logger, metrics, broker, db, readiness }) {
    const store = new AuditRepository(auditModels(db!), {
      chainKey: config.AUDIT_CHAIN_KEY ?? null,
      checkpointEvery: config.AUDIT_CHECKPOINT_EVERY,
    });
    const auditMetrics = createAuditMetrics(metrics.registry);
    const app = createHttpApp({ service: 'audit-service', logger, metrics, readiness });
    app.use('/api/v1', requireInternalIdentity(config.INTERNAL_TOKEN_SECRET), auditRoutes({ store, logger }));
    return {
      app,
      async start() {
        // Finish what a crash may have interrupted (head behind the last record, records not folded).
        auditMetrics.chainLength.set(await store.repairHead());
        await store.foldPending();
        // Prefetch 1: appends are serial in this process; the unique seq index serialises replicas.
        // The record's _id is the event id, so a copy arriving after the first was recorded is a duplicate
        // anyway; the inbox claim keeps two copies in flight at once (two replicas) from both appending.
        await broker!.consume(auditServiceEvents, auditEventHandlers(store, auditMetrics, logger), { inbox: createInbox(db!), prefetch: 1 });
      },
    };
  },
});
