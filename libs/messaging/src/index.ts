export { Broker, type BrokerOptions, type ConsumeOptions } from './broker';
export type { ClaimOutcome, Inbox } from './inbox';
export type { BrokerObserver } from './observer';
export { defineServiceEvents, handleAllWith, type EventHandlers, type ServiceEvents } from './service-events';
export { declareTopology, exchangeName, queueNames } from './topology';
export { deleteBrokerTopology } from './topology-admin';
