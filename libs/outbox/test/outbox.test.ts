import { randomUUID } from 'node:crypto';
import mongoose, { Schema, type Connection, type Model } from 'mongoose';
import { createEvent, type EventEnvelope } from '@pay/contracts';
import { createLogger } from '@pay/logger';
import { AggregateCollection, OutboxRelay, outboxEntries, outboxSchemaFields, type EventPublisher, type OutboxFields } from '../src';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';
import { eventually } from '../../../test/support/stack';

const logger = createLogger('outbox-test', 'error');

interface Thing extends OutboxFields {
  _id: string;
  status: string;
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

const thingSchema = new Schema<Thing>({ _id: String, status: String, ...outboxSchemaFields }, { minimize: false, versionKey: false });

describe('outbox (real database)', () => {
  let connection: Connection;
  let things: Model<Thing>;
  const relays: OutboxRelay[] = [];

  beforeAll(async () => {
    connection = await mongoose.createConnection(testMongoUrl(), { dbName: isolatedPrefix('outbox'), maxPoolSize: 5 }).asPromise();
    things = connection.model<Thing>('Thing', thingSchema);
  });

  afterAll(async () => {
    await Promise.all(relays.map((relay) => relay.stop()));
    await connection.dropDatabase();
    await connection.close();
  });

  function relayWith(publisher: EventPublisher, options: { leaseMs?: number; model?: Model<Thing> } = {}) {
    const relay = new OutboxRelay({ models: [options.model ?? things], publisher, logger, leaseMs: options.leaseMs ?? 5000 });
    relays.push(relay);
    return relay;
  }

  async function stored(id: string) {
    return (await things.collection.findOne({ _id: id as never }))!;
  }

  it('publishes the events a write stored straight from the write, in order, then clears them', async () => {
    const publisher = new RecordingPublisher();
    const collection = new AggregateCollection(things, relayWith(publisher));
    const id = randomUUID();
    const first = created(id);
    await collection.insert({ _id: id, status: 'new' } as Thing, [first]);
    await eventually('first event cleared', async () => (await stored(id)).outbox_pending === false);
    const { version } = (await collection.load(id))!;
    expect(version).toBe(2); // the clean-up is a write too: it moved the version on
    const second = [cancelled(id), created(id)];
    expect(await collection.save(id, version, { status: 'done' }, second)).toMatchObject({ _id: id, status: 'done', version: 3 });
    await eventually('published and cleared', async () => (await stored(id)).outbox_pending === false);
    expect(publisher.published.map((e) => e.id)).toEqual([first.id, second[0]!.id, second[1]!.id]);
    expect(await stored(id)).toMatchObject({ status: 'done', outbox: {}, outbox_lease_owner: null });
  });

  it('refuses a save decided on a version that is no longer the stored one', async () => {
    const collection = new AggregateCollection(things, relayWith(new RecordingPublisher()));
    const id = randomUUID();
    await collection.insert({ _id: id, status: 'new' } as Thing, []);
    expect(await collection.save(id, 1, { status: 'a' }, [])).not.toBeNull();
    expect(await collection.save(id, 1, { status: 'b' }, [created(id)])).toBeNull();
    expect(await stored(id)).toMatchObject({ status: 'a', version: 2, outbox: {} });
  });

  it('keeps events while the broker is down; after the lease runs out a recovery pass publishes them in order', async () => {
    const down = new RecordingPublisher();
    down.failing = true;
    const writer = new AggregateCollection(things, relayWith(down, { leaseMs: 300 }));
    const id = randomUUID();
    const events = [created(id), cancelled(id), created(id), cancelled(id)];
    await writer.insert({ _id: id, status: 'new' } as Thing, events);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(Object.keys((await stored(id)).outbox)).toHaveLength(4);

    const recovering = new RecordingPublisher();
    const other = relayWith(recovering);
    expect(await other.recoverOnce()).toBe(0); // the writer's lease still holds
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await other.recoverOnce()).toBe(4);
    expect(recovering.published.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(await stored(id)).toMatchObject({ outbox: {}, outbox_pending: false });
  });

  it('does not drop an event another write added while the relay was publishing', async () => {
    const id = randomUUID();
    const late = cancelled(id);
    let collection: AggregateCollection<Thing> | null = null;
    let addedLate = false;
    const publisher: EventPublisher = {
      publish: async () => {
        if (addedLate) return;
        addedLate = true;
        // Another request changes the document between the broker's confirm and the clean-up.
        const { version } = (await collection!.load(id))!;
        expect(await collection!.save(id, version, { status: 'changed' }, [late])).not.toBeNull();
      },
    };
    collection = new AggregateCollection(things, relayWith(publisher));
    await collection.insert({ _id: id, status: 'new' } as Thing, [created(id)]);
    await eventually('all published and cleared', async () => (await stored(id)).outbox_pending === false);
    expect(await stored(id)).toMatchObject({ status: 'changed', outbox: {} });
  });

  it('has two relays on two connections recover the same abandoned documents with each event published once', async () => {
    const second = await mongoose.createConnection(testMongoUrl(), { dbName: connection.name, maxPoolSize: 5 }).asPromise();
    try {
      const ids: string[] = Array.from({ length: 30 }, () => randomUUID());
      const events = new Map(ids.map((id) => [id, [created(id), cancelled(id)]]));
      await things.collection.insertMany(
        ids.map((id) => ({
          _id: id as never, status: 'new', version: 2, outbox: outboxEntries(2, events.get(id)!), outbox_pending: true,
          outbox_lease_until: new Date(Date.now() - 1), outbox_lease_owner: 'crashed',
        })),
      );
      const a = new RecordingPublisher();
      const b = new RecordingPublisher();
      const [fromA, fromB] = await Promise.all([relayWith(a).recoverOnce(), relayWith(b, { model: second.model<Thing>('Thing', thingSchema) }).recoverOnce()]);
      expect(fromA + fromB).toBe(60);
      const all = [...a.published, ...b.published].filter((event) => ids.includes((event.data as { orderId: string }).orderId));
      expect(all).toHaveLength(60);
      expect(new Set(all.map((event) => event.id)).size).toBe(60);
      for (const publisher of [a, b]) {
        for (const id of ids) {
          const own = publisher.published.filter((event) => (event.data as { orderId: string }).orderId === id).map((event) => event.type);
          expect([[], ['order.created', 'order.cancelled']]).toContainEqual(own); // a document's events leave together, in order
        }
      }
    } finally {
      await second.close();
    }
  });

  it('recovers pending events of a document stored before versions and leases existed', async () => {
    const id = randomUUID();
    const event = created(id);
    await things.collection.insertOne({ _id: id as never, status: 'old', outbox: outboxEntries(0, [event]), outbox_pending: true } as never);
    const publisher = new RecordingPublisher();
    expect(await relayWith(publisher).recoverOnce()).toBeGreaterThanOrEqual(1);
    expect(publisher.published.map((e) => e.id)).toContain(event.id);
    expect(await stored(id)).toMatchObject({ outbox_pending: false, version: 2 });
  });
});
