import { createEvent, EVENT_PRODUCERS, EVENT_TYPES, type AnyEvent } from '@pay/contracts';
import { defineServiceEvents } from '../src';
import { topicWritePattern } from '../src/definitions';
import { PRODUCER_USER_HEADER, brokerUser, producerRefusal, publishingUser } from '../src/producer-check';

const succeeded = (producer: string) =>
  createEvent(
    'payment.succeeded',
    { paymentId: 'p', orderId: 'o', userId: 'u', amountMinor: 1, currency: 'CNY', transactionId: null, provider: null, actor: 'test' },
    { producer },
  ) as AnyEvent;

/** Deployment: each service logs in as itself; the consumer here is the order service. */
const deployed = { ownLogin: 'order-service', userOf: (service: string) => service };

describe('who may produce an event', () => {
  it('refuses, at load, a service declaring that it emits a type another service produces', () => {
    expect(() => defineServiceEvents({ service: 'callback-gateway', emits: ['callback.verified', 'payment.succeeded'], consumes: [] })).toThrow(
      'callback-gateway emits event types another service produces: payment.succeeded (payment-service)',
    );
    expect(defineServiceEvents({ service: 'payment-service', emits: ['payment.succeeded'], consumes: [] }).emits).toEqual(['payment.succeeded']);
  });

  it('accepts an event whose envelope names its entitled producer and whose user_id is that producer\'s broker user', () => {
    expect(producerRefusal(succeeded('payment-service'), 'payment-service', deployed)).toBeNull();
  });

  it('refuses an event whose envelope names another producer, even from the entitled broker user', () => {
    expect(producerRefusal(succeeded('callback-gateway'), 'payment-service', deployed)).toBe(
      'unauthorized_producer: payment.succeeded must be produced by payment-service, the envelope says callback-gateway',
    );
  });

  it('refuses an event published by another broker user, or by one that did not say (no user_id)', () => {
    expect(producerRefusal(succeeded('payment-service'), 'callback-gateway', deployed)).toBe(
      'unauthorized_producer: payment.succeeded must be published by broker user payment-service, it was published by callback-gateway',
    );
    expect(producerRefusal(succeeded('payment-service'), null, deployed)).toMatch(/^unauthorized_producer: .* published by an unnamed user \(no user_id\)$/);
  });

  it('with one shared development login, checks the envelope only: a message under the consumer\'s own login proves no more', () => {
    const shared = { ownLogin: 'guest', userOf: (service: string) => service };
    expect(producerRefusal(succeeded('payment-service'), 'guest', shared)).toBeNull();
    expect(producerRefusal(succeeded('callback-gateway'), 'guest', shared)).toMatch(/^unauthorized_producer: /);
  });

  it("trusts the recorded producer user only on a message under the consumer's own login (its own retry), never a header another user wrote", () => {
    const moved = { properties: { userId: 'order-service', headers: { [PRODUCER_USER_HEADER]: 'payment-service' } } };
    expect(publishingUser(moved as never, 'order-service')).toBe('payment-service');
    const forged = { properties: { userId: 'callback-gateway', headers: { [PRODUCER_USER_HEADER]: 'payment-service' } } };
    expect(publishingUser(forged as never, 'order-service')).toBe('callback-gateway');
    // A message we moved that had no user_id stays unvouched-for, instead of becoming "ours".
    const movedUnnamed = { properties: { userId: 'order-service', headers: { [PRODUCER_USER_HEADER]: '' } } };
    expect(publishingUser(movedUnnamed as never, 'order-service')).toBeNull();
  });

  it('reads the login of an AMQP URL (guest when it names none, as amqplib logs in)', () => {
    expect(brokerUser('amqp://payment-service:secret@rabbitmq:5672')).toBe('payment-service');
    expect(brokerUser('amqp://127.0.0.1:5672')).toBe('guest');
  });
});

describe('broker definitions', () => {
  it("limits each service's topic permission to exactly the event types EVENT_PRODUCERS gives it", () => {
    for (const service of new Set(Object.values(EVENT_PRODUCERS))) {
      const pattern = new RegExp(topicWritePattern(service));
      expect(EVENT_TYPES.filter((type) => pattern.test(type))).toEqual(EVENT_TYPES.filter((type) => EVENT_PRODUCERS[type] === service));
    }
    const payment = new RegExp(topicWritePattern('payment-service'));
    expect(['payment.succeeded', 'refund.requested'].every((key) => payment.test(key))).toBe(true);
    expect(['payment.succeededX', 'paymentXsucceeded', 'callback.verified', 'order.paid'].some((key) => payment.test(key))).toBe(false);
    expect(topicWritePattern('api-gateway')).toBe('^$');
  });
});
