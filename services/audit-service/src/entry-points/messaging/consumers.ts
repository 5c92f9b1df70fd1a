import type { AnyEvent } from '@pay/contracts';
import type { Logger } from '@pay/logger';
import { handleAllWith, type EventHandlers } from '@pay/messaging';
import type { ChainAnchoring } from '../../data-access/chain-anchoring';
import type { AuditStore } from '../../domain/audit-store';
import { recordAuditEvent } from '../../domain/record-event';
import { auditServiceEvents } from '../../events';
import type { AuditMetrics } from '../audit-metrics';

/**
 * Thin: every event type (the broker validated it) → the audit use case → metrics → an anchor when the
 * record's seq calls for one (a failed anchor does not fail the event). Throwing means retry.
 */
export function auditEventHandlers(
  store: AuditStore,
  metrics: AuditMetrics,
  logger: Logger,
  anchoring: Pick<ChainAnchoring, 'afterAppend'>,
): EventHandlers<typeof auditServiceEvents> {
  return handleAllWith(auditServiceEvents, async (event: AnyEvent) => {
    const outcome = await recordAuditEvent(store, event);
    if (outcome.status === 'duplicate') {
      logger.info('event already audited', { event_id: event.id, type: event.type });
      return;
    }
    metrics.recordsTotal.inc({ action: outcome.record.action });
    metrics.chainLength.set(outcome.record.seq);
    await anchoring.afterAppend(outcome.record);
  });
}
