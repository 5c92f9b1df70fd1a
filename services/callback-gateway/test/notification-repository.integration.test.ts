import { randomUUID } from 'node:crypto';
import mongoose, { type Connection } from 'mongoose';
import { ensureIndexes } from '@pay/db';
import type { NormalizedNotification } from '@pay/providers';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';
import { NotificationRepository } from '../src/data-access/notification-repository';

/**
 * Seen notifications with two gateway replicas on one real database. Each replica loads its own copy of
 * the modules, as a separate process would, so only the database's version guard stands between them.
 */
const connections: Connection[] = [];

async function openConnection(dbName: string, ownMongoose: typeof mongoose = mongoose): Promise<Connection> {
  const connection = ownMongoose.createConnection(testMongoUrl(), { dbName, maxPoolSize: 3, autoIndex: false });
  connections.push(connection);
  return connection.asPromise();
}

/** A gateway replica's notification log: its own module instances, its own connection. */
async function startReplica(dbName: string): Promise<NotificationRepository> {
  let modules: [typeof import('mongoose'), typeof import('../src/data-access/notification-repository')];
  await jest.isolateModulesAsync(async () => {
    modules = await Promise.all([import('mongoose'), import('../src/data-access/notification-repository')]);
  });
  const [{ default: ownMongoose }, { NotificationRepository: OwnRepository }] = modules!;
  return new OwnRepository(await openConnection(dbName, ownMongoose));
}

const notification = (): NormalizedNotification => ({
  provider: 'wechatpay',
  notificationId: `ntf-${randomUUID()}`,
  paymentId: randomUUID(),
  transactionId: 'txn-1',
  outcome: 'success',
  amountMinor: 100,
});

afterAll(async () => {
  for (const connection of connections) {
    await connection.dropDatabase().catch(() => undefined);
    await connection.close();
  }
});

describe('notification log with two replicas (real database)', () => {
  it('keeps one record when both replicas record the same notification at the same moment', async () => {
    const dbName = isolatedPrefix('ntfreplicas');
    const observer = await openConnection(dbName);
    new NotificationRepository(observer); // declares the collection, which ensureIndexes creates
    await ensureIndexes(observer);
    const [first, second] = [await startReplica(dbName), await startReplica(dbName)];

    const seen = notification();
    const key = `wechatpay:${seen.notificationId}`;
    expect(await first.find(key)).toBeNull();
    await Promise.all([first, second, first, second, first, second].map((replica) => replica.recordHandedOff(seen, 'event-1', new Date())));

    expect(await second.find(key)).toEqual({ key, eventId: 'event-1', handedOff: true });
    // One insert won; the others hit the unique _id and found nothing left to mark.
    expect(await observer.collection('notifications').countDocuments({ _id: key as never })).toBe(1);
    expect(await observer.collection('notifications').findOne({ _id: key as never })).toMatchObject({ handed_off: true, version: 0 });
  });

  it("marks, once, a record an older gateway left unmarked, when both replicas hand the provider's retry on", async () => {
    const dbName = isolatedPrefix('ntflegacy');
    const observer = await openConnection(dbName);
    new NotificationRepository(observer);
    await ensureIndexes(observer);
    const [first, second] = [await startReplica(dbName), await startReplica(dbName)];
    const seen = notification();
    const key = `wechatpay:${seen.notificationId}`;
    // Recorded before its hand-off and never marked (no version field either: it predates versions).
    await observer.collection('notifications').insertOne({
      _id: key as never,
      provider: seen.provider,
      notification_id: seen.notificationId,
      payment_id: seen.paymentId,
      outcome: seen.outcome,
      amount_minor: seen.amountMinor,
      event_id: 'event-1',
      handed_off: false,
      received_at: new Date(),
      handed_off_at: null,
    });
    expect(await first.find(key)).toEqual({ key, eventId: 'event-1', handedOff: false });

    await Promise.all([first, second, first, second].map((replica) => replica.recordHandedOff(seen, 'event-1', new Date())));
    expect(await second.find(key)).toEqual({ key, eventId: 'event-1', handedOff: true });
    // One guarded write won; the others were refused as stale or found it marked.
    expect(await observer.collection('notifications').findOne({ _id: key as never })).toMatchObject({ handed_off: true, version: 1 });
  });
});

describe('notification log (real database)', () => {
  it('records a refund result with its refund id, status and amount besides the paid total', async () => {
    const dbName = isolatedPrefix('ntfrefund');
    const connection = await openConnection(dbName);
    const log = new NotificationRepository(connection);
    await ensureIndexes(connection);
    const seen: NormalizedNotification = {
      ...notification(),
      outcome: 'failure',
      amountMinor: 9900,
      refund: { refundId: 'refund-1', providerRefundId: '50300000000000000000000000001', status: 'needs_attention', refundMinor: 1000 },
    };
    const key = `wechatpay:${seen.notificationId}`;
    await log.recordHandedOff(seen, 'event-1', new Date());
    expect(await connection.collection('notifications').findOne({ _id: key as never })).toMatchObject({
      handed_off: true,
      event_id: 'event-1',
      payment_id: seen.paymentId,
      outcome: 'failure',
      amount_minor: 9900,
      refund_id: 'refund-1',
      refund_status: 'needs_attention',
      refund_minor: 1000,
    });
    const payment = notification();
    await log.recordHandedOff(payment, 'event-2', new Date());
    expect(await connection.collection('notifications').findOne({ _id: `wechatpay:${payment.notificationId}` as never })).not.toHaveProperty('refund_id');
  });
});
