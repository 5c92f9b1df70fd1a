import { randomUUID } from 'node:crypto';
import mongoose, { Schema, type Connection, type Model } from 'mongoose';
import { createEvent, type AnyEvent, type EventEnvelope } from '@pay/contracts';
import { createLogger } from '@pay/logger';
import { Broker } from '@pay/messaging';
import { OutboxRelay, enqueueEvents, initialOutbox, outboxSchemaFields, type EventPublisher } from '../src';
import { deleteBrokerTopology } from '../../../test/support/broker-cleanup';
import { isolatedPrefix, testAmqpUrl, testMongoUrl } from '../../../test/support/isolation';
import { eventually } from '../../../test/support/stack';

const logger = createLogger('outbox-test', 'error');

interface Thing {
  _id: string;
  status: string;
  outbox: Record<string, EventEnvelope>;
  outbox_pending: boolean;
}

function created(orderId: string) {
  return createEvent('order.created', { orderId, orderNumber: 'ORD-1', userId: 'u1', amountMinor: 100, currency: 'CNY' }, { producer: 'test' });
}
function cancelled(orderId: string) {
  return createEvent('order.cancelled', { orderId, orderNumber: 'ORD-1', userId: 'u1', amountMinor: 100, currency: 'CNY', reason: 'x' }, { producer: 'test' });
}

class RecordingPublisher implements EventPublisher {
  published: EventEnvelope[] = [];
  failing = false;
  async publish(event: EventEnvelope) {
    if (this.failing) throw new Error('broker down');
    this.published.push(event);
  }
}

describe('outbox (real database)', () => {
  let connection: Connection;
  let things: Model<Thing>;

  beforeAll(async () => {
    connection = await mongoose.createConnection(testMongoUrl(), { dbName: isolatedPrefix('outbox'), maxPoolSize: 3 }).asPromise();
    things = connection.model<Thing>('Thing', new Schema<Thing>({ _id: String, status: String, ...outboxSchemaFields }, { minimize: false, versionKey: false }));
  });

  afterAll(async () => {
    await connection.dropDatabase();
    await connection.close();
  });

  async function insertWith(events: EventEnvelope[]) {
    const id = randomUUID();
    await things.collection.insertOne({ _id: id as never, status: 'new', ...initialOutbox(events) });
    return id;
  }

  it('publishes events written with the state change, then clears them', async () => {
    const id = await insertWith([]);
    const event = created(id);
    await things.collection.updateOne({ _id: id as never, status: 'new' }, { $set: { status: 'done', ...enqueueEvents([event]) } });
    const publisher = new RecordingPublisher();
    const relay = new OutboxRelay({ models: [things], publisher, logger });
    expect(await relay.drainOnce()).toBe(1);
    expect(publisher.published.map((e) => e.id)).toEqual([event.id]);
    const document = await things.collection.findOne({ _id: id as never });
    expect(document).toMatchObject({ status: 'done', outbox: {}, outbox_pending: false });
    expect(await relay.drainOnce()).toBe(0);
  });

  it('keeps events while the broker is down and publishes them once it is back', async () => {
    const id = await insertWith([]);
    // Enqueued in one write, within one millisecond: the relay must still keep their order.
    await things.collection.updateOne({ _id: id as never }, { $set: enqueueEvents([created(id), cancelled(id), created(id), cancelled(id)]) });
    const publisher = new RecordingPublisher();
    publisher.failing = true;
    const relay = new OutboxRelay({ models: [things], publisher, logger });
    await expect(relay.drainOnce()).rejects.toThrow('broker down');
    expect(Object.keys((await things.collection.findOne({ _id: id as never }))!.outbox)).toHaveLength(4);
    publisher.failing = false;
    await relay.drainOnce();
    expect(publisher.published.map((e) => e.type)).toEqual(['order.created', 'order.cancelled', 'order.created', 'order.cancelled']);
  });

  it('re-publishes (never loses) an event whose removal did not happen before a crash', async () => {
    const id = await insertWith([created(randomUUID())]);
    // A relay that "crashes" after the broker confirmed but before the outbox was cleared.
    const crashing: EventPublisher = { publish: async () => Promise.reject(new Error('crash after confirm')) };
    const confirmed: EventEnvelope[] = [];
    const beforeCrash: EventPublisher = {
      publish: async (event) => {
        confirmed.push(event);
        await crashing.publish(event);
      },
    };
    await expect(new OutboxRelay({ models: [things], publisher: beforeCrash, logger }).drainOnce()).rejects.toThrow();
    const restarted = new RecordingPublisher();
    await new OutboxRelay({ models: [things], publisher: restarted, logger }).drainOnce();
    expect(restarted.published.map((e) => e.id)).toContain(confirmed[0]!.id); // at-least-once; consumers dedupe by id
    expect((await things.collection.findOne({ _id: id as never }))!.outbox_pending).toBe(false);
  });

  it('does not drop an event enqueued while the relay was clearing the document', async () => {
    const id = await insertWith([created(randomUUID())]);
    const late = cancelled(id);
    const publisher: EventPublisher = {
      publish: async () => {
        await things.collection.updateOne({ _id: id as never }, { $set: enqueueEvents([late]) });
      },
    };
    await new OutboxRelay({ models: [things], publisher, logger }).drainOnce();
    const document = await things.collection.findOne({ _id: id as never });
    expect(Object.values(document!.outbox as Record<string, EventEnvelope>).map((event) => event.id)).toEqual([late.id]);
    expect(document!.outbox_pending).toBe(true);
  });

  it('delivers through the real broker with publisher confirms', async () => {
    const prefix = isolatedPrefix('outboxb');
    const broker = new Broker({ url: testAmqpUrl(), prefix, service: 'test', logger });
    await broker.start();
    const received: AnyEvent[] = [];
    await broker.consume('payment-service', async (event) => void received.push(event));
    const id = await insertWith([created(randomUUID())]);
    const relay = new OutboxRelay({ models: [things], publisher: broker, logger, intervalMs: 50 });
    relay.start();
    await eventually('delivered', async () => received.length > 0);
    await relay.stop();
    await broker.close();
    await deleteBrokerTopology(testAmqpUrl(), prefix);
    expect((await things.collection.findOne({ _id: id as never }))!.outbox_pending).toBe(false);
  });
});

