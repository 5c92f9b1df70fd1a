import type { AnyEvent } from '@pay/contracts';
import type { Logger } from '@pay/logger';
import type { AuditStore } from '../../domain/audit-store';
import { recordAuditEvent } from '../../domain/record-event';
import type { AuditMetrics } from '../audit-metrics';

/** Thin: every event (the broker validated it) → the audit use case → metrics. Throwing means retry. */
export function auditEventHandler(store: AuditStore, metrics: AuditMetrics, logger: Logger) {
  return async (event: AnyEvent): Promise<void> => {
    const outcome = await recordAuditEvent(store, event);
    if (outcome.status === 'duplicate') {
      logger.info('event already audited', { event_id: event.id, type: event.type });
      return;
    }
    metrics.recordsTotal.inc({ action: outcome.record.action });
    metrics.chainLength.set(outcome.record.seq);
  };
}
