import type { ConsumeMessage } from 'amqplib';
import { EVENT_PRODUCERS, type AnyEvent, type ServiceName } from '@pay/contracts';

/**
 * Who put an event on the bus, and whether they were entitled to (design, "Trust inside"). RabbitMQ
 * refuses a message whose `user_id` property differs from the user of the connection publishing it, so
 * `user_id` is proof of the publishing broker user; `envelope.producer` is only what the publisher says.
 */

/**
 * The broker user that first published a message a consumer moved to its own delay or dead-letter queue.
 * Our own re-publish must carry our own user_id (RabbitMQ refuses any other), so the original one travels
 * here. Trusted only on a message whose user_id is the consumer's own login: only a connection logged in
 * as that user can publish such a message, i.e. the consumer itself (see publishingUser).
 */
export const PRODUCER_USER_HEADER = 'x-producer-user';

/** The reason a refused event is dead-lettered with (the `x-last-error` header starts with it). */
export const UNAUTHORIZED_PRODUCER = 'unauthorized_producer';

/** The user an AMQP URL logs in as; amqplib logs in as guest when the URL names none. */
export function brokerUser(url: string): string {
  const name = new URL(url).username;
  return name ? decodeURIComponent(name) : 'guest';
}

/**
 * The broker user that published the event in `message`: its user_id, or for a message the consumer
 * itself moved (user_id = its own login) the user recorded in PRODUCER_USER_HEADER. Null when unknown
 * (no user_id: published by something that did not say, which RabbitMQ cannot vouch for).
 */
export function publishingUser(message: Pick<ConsumeMessage, 'properties'>, ownLogin: string): string | null {
  const userId = typeof message.properties.userId === 'string' ? message.properties.userId : null;
  const recorded = message.properties.headers?.[PRODUCER_USER_HEADER];
  // An empty record: the consumer moved a message that had no user_id; it stays unvouched-for after the move.
  if (userId === ownLogin && typeof recorded === 'string') return recorded || null;
  return userId;
}

export interface ProducerCheck {
  /** The consumer's own broker login (the user of its AMQP_URL). */
  ownLogin: string;
  /** The broker user of a producing service: its own name in deployments (see BrokerOptions.producerUser). */
  userOf(service: ServiceName): string;
}

/**
 * Why an event must be refused, or null when its producer is entitled: `envelope.producer` must be the
 * producer EVENT_PRODUCERS names for its type, and the publishing broker user must be that producer's
 * user. A message published under the consumer's own login is accepted too, on purpose: only the
 * consumer itself can publish under its login, and it can only mislead itself. In development every
 * service shares one login (guest), so there every message falls in this case and only
 * `envelope.producer` is checked: the user_id proof needs deployments' one user per service.
 */
export function producerRefusal(event: AnyEvent, publishedBy: string | null, check: ProducerCheck): string | null {
  const entitled = EVENT_PRODUCERS[event.type];
  if (event.producer !== entitled) {
    return `${UNAUTHORIZED_PRODUCER}: ${event.type} must be produced by ${entitled}, the envelope says ${event.producer}`;
  }
  const entitledUser = check.userOf(entitled);
  if (publishedBy === entitledUser || publishedBy === check.ownLogin) return null;
  return `${UNAUTHORIZED_PRODUCER}: ${event.type} must be published by broker user ${entitledUser}, it was published by ${publishedBy ?? 'an unnamed user (no user_id)'}`;
}
