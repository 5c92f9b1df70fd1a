import { defineServiceEvents } from '@pay/messaging';

/** What the order service puts on the bus and takes off it (handlers: entry-points/messaging/consumers.ts). */
export const orderServiceEvents = defineServiceEvents({
  service: 'order-service',
  emits: ['order.created', 'order.cancelled', 'order.paid', 'order.refunded'],
  // audit.checkpoint: the audit chain's anchors, kept here, outside the audit database (domain/audit-anchors.ts).
  consumes: ['payment.succeeded', 'payment.refunded', 'audit.checkpoint'],
});
