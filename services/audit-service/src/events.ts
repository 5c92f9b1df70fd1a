import { EVENT_TYPES } from '@pay/contracts';
import { defineServiceEvents } from '@pay/messaging';

/**
 * The audit log records every event (design: "binds to every event"), bound type by type rather than
 * with `#`, so a type added to the contracts reaches it through this declaration like any other consumer.
 * That includes its own `audit.checkpoint` anchors (recorded as `audit_checkpoint`): an anchor is then
 * itself in the chain (data-access/chain-anchoring.ts keeps that from calling for ever more anchors).
 */
export const auditServiceEvents = defineServiceEvents({
  service: 'audit-service',
  emits: ['audit.checkpoint'],
  consumes: EVENT_TYPES,
});
