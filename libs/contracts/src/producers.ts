import type { EventType } from './events';

/** The services that talk to the broker, each with a broker user of the same name in deployments. */
export const BROKER_SERVICES = ['audit-service', 'order-service', 'payment-service', 'callback-gateway'] as const;
export type ServiceName = (typeof BROKER_SERVICES)[number];

/**
 * Which service alone may emit each event type (design, "Trust inside"). One table for the three places
 * that enforce it: a service's declaration (defineServiceEvents refuses to emit another's type), the
 * broker's topic permissions (tools/broker-definitions), and every consumer (an event whose producer or
 * publishing broker user is not this one is dead-lettered as unauthorized_producer). A type added to the
 * contracts does not compile until it has its producer here.
 */
export const EVENT_PRODUCERS: Readonly<Record<EventType, ServiceName>> = Object.freeze({
  'order.created': 'order-service',
  'order.paid': 'order-service',
  'order.cancelled': 'order-service',
  'order.refunded': 'order-service',
  'payment.created': 'payment-service',
  'payment.processing': 'payment-service',
  'payment.verified': 'payment-service',
  'payment.succeeded': 'payment-service',
  'payment.failed': 'payment-service',
  'payment.cancelled': 'payment-service',
  'payment.expired': 'payment-service',
  'payment.late_success': 'payment-service',
  'payment.duplicate_paid': 'payment-service',
  'payment.refunded': 'payment-service',
  'refund.requested': 'payment-service',
  'refund.succeeded': 'payment-service',
  'refund.failed': 'payment-service',
  'callback.verified': 'callback-gateway',
  'callback.rejected': 'callback-gateway',
  'audit.checkpoint': 'audit-service',
});

/** The event types a service is entitled to emit, in contract order. */
export function eventTypesProducedBy(service: string): EventType[] {
  return (Object.keys(EVENT_PRODUCERS) as EventType[]).filter((type) => EVENT_PRODUCERS[type] === service);
}
