import { setTimeout as sleep } from 'node:timers/promises';
import mongoose, { type Connection } from 'mongoose';
import { createInbox } from '../src';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';

describe('inbox claims (real database)', () => {
  let connection: Connection;
  let other: Connection;

  beforeAll(async () => {
    const dbName = isolatedPrefix('inbox');
    connection = await mongoose.createConnection(testMongoUrl(), { dbName, maxPoolSize: 3 }).asPromise();
    // A second connection stands for a second process: its own pool, its own inbox.
    other = await mongoose.createConnection(testMongoUrl(), { dbName, maxPoolSize: 3 }).asPromise();
  });

  afterAll(async () => {
    await connection.dropDatabase();
    await Promise.all([connection.close(), other.close()]);
  });

  const entries = () => connection.db!.collection('processed_events');

  it('lets exactly one of several concurrent claims of one event run it; the others are told it is busy', async () => {
    const inboxes = [createInbox(connection), createInbox(other)];
    const outcomes = await Promise.all(Array.from({ length: 6 }, (_, i) => inboxes[i % 2]!.claim('e-concurrent', 'order.created')));
    expect(outcomes.filter((outcome) => outcome === 'claimed')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === 'busy')).toHaveLength(5);
    expect(await entries().countDocuments({ _id: 'e-concurrent' as never })).toBe(1);
  });

  it('answers done to every later copy once the handler has completed', async () => {
    const inbox = createInbox(connection);
    expect(await inbox.claim('e-done', 'order.created')).toBe('claimed');
    await inbox.complete('e-done');
    expect(await inbox.claim('e-done', 'order.created')).toBe('done');
    expect(await createInbox(other).claim('e-done', 'order.created')).toBe('done');
    expect(await entries().findOne({ _id: 'e-done' as never })).toMatchObject({ state: 'done', version: 2 });
  });

  it('lets the retried copy claim an event at once after its handler failed and released it', async () => {
    const inbox = createInbox(connection);
    expect(await inbox.claim('e-failed', 'order.created')).toBe('claimed');
    await inbox.release('e-failed');
    const retry = createInbox(other);
    expect(await retry.claim('e-failed', 'order.created')).toBe('claimed');
    await retry.complete('e-failed');
    expect(await inbox.claim('e-failed', 'order.created')).toBe('done');
  });

  it('hands a claim whose lease ran out (its holder crashed) to exactly one of the copies that come for it', async () => {
    const crashed = createInbox(connection, { leaseMs: 100 });
    expect(await crashed.claim('e-crashed', 'order.created')).toBe('claimed');
    expect(await createInbox(other).claim('e-crashed', 'order.created')).toBe('busy'); // lease still running
    await sleep(150);
    const takers = [createInbox(connection), createInbox(other), createInbox(other)];
    const outcomes = await Promise.all(takers.map((inbox) => inbox.claim('e-crashed', 'order.created')));
    expect(outcomes.filter((outcome) => outcome === 'claimed')).toHaveLength(1);
    const winner = takers[outcomes.indexOf('claimed')]!;
    await winner.complete('e-crashed');
    expect(await crashed.claim('e-crashed', 'order.created')).toBe('done');
  });

  it('marks an event done when its slow holder finishes after another copy took the claim over', async () => {
    const slow = createInbox(connection, { leaseMs: 50 });
    expect(await slow.claim('e-slow', 'order.created')).toBe('claimed');
    await sleep(80);
    const taker = createInbox(other);
    expect(await taker.claim('e-slow', 'order.created')).toBe('claimed');
    await slow.complete('e-slow'); // its effect is stored: the event is done whoever holds the claim
    await taker.complete('e-slow');
    expect(await entries().findOne({ _id: 'e-slow' as never })).toMatchObject({ state: 'done' });
  });

  it('counts an event recorded before claims existed as done', async () => {
    await entries().insertOne({ _id: 'e-legacy' as never, type: 'order.created', processed_at: new Date() });
    expect(await createInbox(connection).claim('e-legacy', 'order.created')).toBe('done');
  });
});
