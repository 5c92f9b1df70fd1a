import { createHash, randomBytes } from 'node:crypto';
import { eventTypesProducedBy } from '@pay/contracts';
import { DEFAULT_RETRY_DELAYS_MS } from './retry-policy';
import type { ServiceEvents } from './service-events';
import { exchangeName, queueNames, retryQueueArguments } from './topology';

/**
 * The broker's side of "each service has its own broker user that may publish only its own event types
 * and read only its own queues" (design, "Trust inside"), as a RabbitMQ definitions document (the JSON
 * of `rabbitmqctl import_definitions` and of `load_definitions` at boot): one user per service, its
 * permissions and topic permissions, and the whole topology (the events exchange, every consuming
 * service's queues, moves exchange and bindings), so services run with BROKER_DECLARE_TOPOLOGY=false
 * and need no configure right. Built from the services' src/events.ts and EVENT_PRODUCERS, never by hand.
 */
export interface BrokerDefinitions {
  users: { name: string; password_hash: string; hashing_algorithm: 'rabbit_password_hashing_sha256'; tags: string[] }[];
  vhosts: { name: string }[];
  permissions: { user: string; vhost: string; configure: string; write: string; read: string }[];
  topic_permissions: { user: string; vhost: string; exchange: string; write: string; read: string }[];
  exchanges: { name: string; vhost: string; type: 'topic' | 'direct'; durable: true; auto_delete: false; internal: false; arguments: Record<string, never> }[];
  queues: { name: string; vhost: string; durable: true; auto_delete: false; arguments: Record<string, unknown> }[];
  bindings: { source: string; vhost: string; destination: string; destination_type: 'queue'; routing_key: string; arguments: Record<string, never> }[];
}

export interface DefinitionsInput {
  prefix: string;
  /** Every service with a broker user (ALL_SERVICE_EVENTS). */
  services: readonly ServiceEvents[];
  /** Each service's password (and the operator's, under `operator.name`), from the environment. */
  passwords: Readonly<Record<string, string>>;
  /** An operator user with every right (management UI, `npm run dlq`); omitted when null. */
  operator: { name: string } | null;
  retryDelaysMs?: readonly number[];
  vhost?: string;
  /** The user name of a service: its own name in deployments; tests use per-run names. */
  userOf?: (service: string) => string;
}

/** The user with every right the definitions may add (management UI, `npm run dlq`), with BROKER_PASSWORD_OPERATOR. */
export const OPERATOR_USER = 'operator';

/** Where a service's broker password comes from: BROKER_PASSWORD_<SERVICE_NAME_IN_CAPITALS>. */
export function brokerPasswordVariable(service: string): string {
  return `BROKER_PASSWORD_${service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** RabbitMQ's rabbit_password_hashing_sha256: base64(salt(4 bytes) + sha256(salt + utf-8 password)). */
export function rabbitPasswordHash(password: string, salt: Buffer = randomBytes(4)): string {
  const digest = createHash('sha256').update(salt).update(password, 'utf8').digest();
  return Buffer.concat([salt, digest]).toString('base64');
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The routing keys (= event types) a service may publish on the events exchange: exactly its EVENT_PRODUCERS types. */
export function topicWritePattern(service: string): string {
  const types = eventTypesProducedBy(service);
  // '^$' matches no event type: a service that produces nothing may publish nothing.
  return types.length > 0 ? `^(${types.map(escapeRegex).join('|')})$` : '^$';
}

/**
 * A service's rights: configure only its own queues and moves exchange (used only where it declares them
 * itself); write the events exchange, its own moves exchange and queues; read (consume, bind from) only
 * its own queues and moves exchange. No right on `amq.default` (see QueueNames.moves) nor on another
 * service's queues, and no read on the events exchange: binding its queue to more types than it
 * declares would let it read other services' events, so bindings come from these definitions.
 */
export function servicePermissions(prefix: string, service: string): { configure: string; write: string; read: string } {
  const own = `${escapeRegex(`${prefix}.${service}`)}(\\.retry\\.[0-9]+ms|\\.dlq|\\.moves)?`;
  return { configure: `^${own}$`, write: `^(${escapeRegex(exchangeName(prefix))}|${own})$`, read: `^${own}$` };
}

export function buildBrokerDefinitions(input: DefinitionsInput): BrokerDefinitions {
  const vhost = input.vhost ?? '/';
  const retryDelaysMs = input.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const userOf = input.userOf ?? ((service: string) => service);
  const events = exchangeName(input.prefix);
  const passwordOf = (key: string): string => {
    const password = input.passwords[key];
    if (!password) throw new Error(`no broker password for ${key}`);
    return password;
  };
  const definitions: BrokerDefinitions = {
    users: [],
    vhosts: [{ name: vhost }],
    permissions: [],
    topic_permissions: [],
    exchanges: [{ name: events, vhost, type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} }],
    queues: [],
    bindings: [],
  };
  const bind = (source: string, destination: string, routingKey: string) =>
    definitions.bindings.push({ source, vhost, destination, destination_type: 'queue', routing_key: routingKey, arguments: {} });
  for (const declaration of input.services) {
    const user = userOf(declaration.service);
    definitions.users.push({ name: user, password_hash: rabbitPasswordHash(passwordOf(declaration.service)), hashing_algorithm: 'rabbit_password_hashing_sha256', tags: [] });
    definitions.permissions.push({ user, vhost, ...servicePermissions(input.prefix, declaration.service) });
    // Topic read '^$': no binding on the events exchange under this user (AMQP checks topic read on bind).
    definitions.topic_permissions.push({ user, vhost, exchange: events, write: topicWritePattern(declaration.service), read: '^$' });
    if (declaration.consumes.length === 0) continue;
    const names = queueNames(input.prefix, declaration.service, retryDelaysMs);
    const retryArguments = retryQueueArguments(names, retryDelaysMs);
    for (const queue of [names.main, ...names.retries, names.dead]) {
      definitions.queues.push({ name: queue, vhost, durable: true, auto_delete: false, arguments: retryArguments[queue] ?? {} });
    }
    definitions.exchanges.push({ name: names.moves, vhost, type: 'direct', durable: true, auto_delete: false, internal: false, arguments: {} });
    for (const type of declaration.consumes) bind(events, names.main, type);
    for (const queue of [names.main, ...names.retries, names.dead]) bind(names.moves, queue, queue);
  }
  if (input.operator) {
    const name = input.operator.name;
    definitions.users.push({ name, password_hash: rabbitPasswordHash(passwordOf(name)), hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['administrator'] });
    definitions.permissions.push({ user: name, vhost, configure: '.*', write: '.*', read: '.*' });
  }
  return definitions;
}
