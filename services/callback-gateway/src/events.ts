import { defineServiceEvents } from '@pay/messaging';

/** What the callback gateway puts on the bus and takes off it (handlers: entry-points/messaging/consumers.ts). */
export const callbackGatewayEvents = defineServiceEvents({
  service: 'callback-gateway',
  emits: ['callback.verified', 'callback.rejected'],
  // Its own view of payments, for the amount check of provider notifications.
  consumes: ['payment.created'],
});
