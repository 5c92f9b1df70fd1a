import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BrokerObserver } from '@pay/messaging';

/** One Prometheus registry per service, with the figures every service reports. */
export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });

  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const eventsPublished = new Counter({
    name: 'events_published_total',
    help: 'Events confirmed by the broker',
    labelNames: ['type'] as const,
    registers: [registry],
  });
  const eventsConsumed = new Counter({
    name: 'events_consumed_total',
    help: 'Deliveries by outcome (handled, duplicate, busy, retried, dead_lettered, refused: dead-lettered as unauthorized_producer) and redelivery flag',
    labelNames: ['type', 'outcome', 'redelivered'] as const,
    registers: [registry],
  });
  const dbCommands = new Counter({
    name: 'db_commands_total',
    help: 'Commands sent to the database (each a round trip), by command and collection',
    labelNames: ['command', 'collection'] as const,
    registers: [registry],
  });
  const brokerConnected = new Gauge({ name: 'broker_connected', help: '1 while connected to RabbitMQ', registers: [registry] });
  const outboxBacklog = new Gauge({
    name: 'outbox_backlog_documents',
    help: 'Documents holding unpublished events at the last relay pass',
    registers: [registry],
  });

  const brokerObserver: BrokerObserver = {
    onPublished: (type) => eventsPublished.inc({ type }),
    onConsumed: (type, outcome, redelivered) => eventsConsumed.inc({ type, outcome, redelivered: String(redelivered) }),
    onConnectionChange: (connected) => brokerConnected.set(connected ? 1 : 0),
  };

  return { registry, httpDuration, eventsPublished, eventsConsumed, dbCommands, brokerConnected, outboxBacklog, brokerObserver };
}

export type ServiceMetrics = ReturnType<typeof createMetrics>;
export { Counter, Gauge, Histogram, Registry };
