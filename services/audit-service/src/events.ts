import { EVENT_TYPES } from '@pay/contracts';
import { defineServiceEvents } from '@pay/messaging';

/**
 * The audit log records every event (design: "binds to every event"), bound type by type rather than
 * with `#`, so a type added to the contracts reaches it through this declaration like any other consumer.
 */
export const auditServiceEvents = defineServiceEvents({
  service: 'audit-service',
  emits: [],
  consumes: EVENT_TYPES,
});
