export { outboxSchemaFields, outboxEntries, type OutboxFields } from './outbox-fields';
export { OutboxRelay, type EventPublisher, type OutboxDocument, type OutboxRelayOptions } from './relay';
export { AggregateCollection, type Versioned } from './aggregate-collection';
