import { defineServiceEvents } from '@pay/messaging';

/** What the payment service puts on the bus and takes off it (handlers: entry-points/messaging/consumers.ts). */
export const paymentServiceEvents = defineServiceEvents({
  service: 'payment-service',
  emits: [
    'payment.created',
    'payment.processing',
    'payment.verified',
    'payment.succeeded',
    'payment.failed',
    'payment.cancelled',
    'payment.expired',
    'payment.late_success',
    'payment.duplicate_paid',
    'refund.requested',
    'refund.succeeded',
    'refund.failed',
    'payment.refunded',
  ],
  // order.created: its own copy of the orders it may take payments for; callback.verified: provider
  // notifications the callback gateway checked; order.cancelled: open payments of the order are cancelled.
  consumes: ['order.created', 'order.cancelled', 'callback.verified'],
});
