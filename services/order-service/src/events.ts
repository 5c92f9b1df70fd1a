import { defineServiceEvents } from '@pay/messaging';

/** What the order service puts on the bus and takes off it (handlers: entry-points/messaging/consumers.ts). */
export const orderServiceEvents = defineServiceEvents({
  service: 'order-service',
  emits: ['order.created', 'order.cancelled', 'order.paid', 'order.refunded'],
  consumes: ['payment.succeeded', 'payment.refunded'],
});
