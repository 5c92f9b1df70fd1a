export { Broker, type BrokerOptions, type ConsumeOptions } from './broker';
export type { ClaimOutcome, Inbox } from './inbox';
export type { BrokerObserver } from './observer';
export { brokerPasswordVariable, buildBrokerDefinitions, OPERATOR_USER, rabbitPasswordHash, servicePermissions, topicWritePattern, type BrokerDefinitions, type DefinitionsInput } from './definitions';
export { brokerUser, PRODUCER_USER_HEADER, UNAUTHORIZED_PRODUCER } from './producer-check';
export { defineServiceEvents, handleAllWith, type EventHandlers, type ServiceEvents } from './service-events';
export { declareTopology, exchangeName, queueNames } from './topology';
export { deleteBrokerTopology } from './topology-admin';
