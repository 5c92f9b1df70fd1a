import { randomUUID } from 'node:crypto';
import mongoose, { type Connection } from 'mongoose';
import { createEvent } from '@pay/contracts';
import { ensureIndexes } from '@pay/db';
import type { NormalizedNotification } from '@pay/providers';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';
import { KnownPaymentsRepository } from '../src/data-access/known-payments-repository';
import { NotificationRepository } from '../src/data-access/notification-repository';
import { callbackGatewayEventHandlers } from '../src/entry-points/messaging/consumers';

/** The gateway's repositories against the real database (FerretDB from jest's global setup, or MONGO_URL). */
describe('callback gateway storage (real database)', () => {
  let connection: Connection;
  let payments: KnownPaymentsRepository;
  let notifications: NotificationRepository;

  beforeAll(async () => {
    connection = await mongoose.createConnection(testMongoUrl(), { dbName: isolatedPrefix('callbacks'), maxPoolSize: 5, autoIndex: false }).asPromise();
    payments = new KnownPaymentsRepository(connection);
    notifications = new NotificationRepository(connection);
    await ensureIndexes(connection);
  });

  afterAll(async () => {
    await connection.dropDatabase().catch(() => undefined);
    await connection.close();
  });

  function paymentCreated(paymentId: string, amountMinor: number, method: 'wechat' | 'alipay' | 'bank_card' = 'wechat') {
    return createEvent(
      'payment.created',
      { paymentId, orderId: randomUUID(), userId: 'alice', amountMinor, currency: 'CNY', method, expiresAt: new Date().toISOString() },
      { producer: 'test' },
    );
  }

  it('projects payment.created into the payment view, and a redelivery (even concurrent) changes nothing', async () => {
    const handle = callbackGatewayEventHandlers(payments)['payment.created'];
    const paymentId = randomUUID();
    const event = paymentCreated(paymentId, 4200);
    await Promise.all(Array.from({ length: 10 }, () => handle(event)));
    await handle(paymentCreated(paymentId, 1, 'alipay'));
    expect(await payments.get(paymentId)).toEqual({ id: paymentId, amountMinor: 4200, currency: 'CNY', method: 'wechat' });
    expect(await connection.collection('known_payments').countDocuments({ _id: paymentId as never })).toBe(1);
  });

  it("stores the payment's method, which decides the provider that may notify about it", async () => {
    const handle = callbackGatewayEventHandlers(payments)['payment.created'];
    for (const method of ['wechat', 'alipay', 'bank_card'] as const) {
      const paymentId = randomUUID();
      await handle(paymentCreated(paymentId, 990, method));
      expect(await payments.get(paymentId)).toEqual({ id: paymentId, amountMinor: 990, currency: 'CNY', method });
      expect(await connection.collection('known_payments').findOne({ _id: paymentId as never })).toEqual({ _id: paymentId, amount_minor: 990, currency: 'CNY', method });
    }
  });

  it('reads a payment recorded before methods were stored without one, and a later payment.created does not add it', async () => {
    const paymentId = randomUUID();
    await connection.collection('known_payments').insertOne({ _id: paymentId as never, amount_minor: 500, currency: 'CNY' });
    expect(await payments.get(paymentId)).toEqual({ id: paymentId, amountMinor: 500, currency: 'CNY' });
    await callbackGatewayEventHandlers(payments)['payment.created'](paymentCreated(paymentId, 500, 'bank_card'));
    expect(await payments.get(paymentId)).toEqual({ id: paymentId, amountMinor: 500, currency: 'CNY' });
  });

  it('knows nothing of a payment it never heard of', async () => {
    expect(await payments.get(randomUUID())).toBeNull();
  });

  it('keeps a payment in memory once recorded or read (its document never changes), but never the absence of one', async () => {
    const paymentId = randomUUID();
    expect(await payments.get(paymentId)).toBeNull();
    await callbackGatewayEventHandlers(payments)['payment.created'](paymentCreated(paymentId, 700, 'alipay'));
    const known = { id: paymentId, amountMinor: 700, currency: 'CNY', method: 'alipay' };
    // Recorded by this process: answered from memory, without a read.
    await connection.collection('known_payments').deleteOne({ _id: paymentId as never });
    expect(await payments.get(paymentId)).toEqual(known);
    await connection.collection('known_payments').insertOne({ _id: paymentId as never, amount_minor: 700, currency: 'CNY', method: 'alipay' });
    // Removing the document is a test device only (nothing in the product does): the next read has no
    // database work to do, so it still answers.
    await connection.collection('known_payments').deleteOne({ _id: paymentId as never });
    expect(await payments.get(paymentId)).toEqual(known);
    // A caller changing its copy does not change the kept one.
    (await payments.get(paymentId))!.amountMinor = 1;
    expect(await payments.get(paymentId)).toEqual(known);
    // Another process's repository has not read it: it asks the database.
    expect(await new KnownPaymentsRepository(connection).get(paymentId)).toBeNull();
  });

  it('keeps what a read returns, not what a duplicate payment.created says, for a payment stored before', async () => {
    const paymentId = randomUUID();
    await connection.collection('known_payments').insertOne({ _id: paymentId as never, amount_minor: 500, currency: 'CNY' });
    const fresh = new KnownPaymentsRepository(connection);
    await callbackGatewayEventHandlers(fresh)['payment.created'](paymentCreated(paymentId, 500, 'bank_card'));
    expect(await fresh.get(paymentId)).toEqual({ id: paymentId, amountMinor: 500, currency: 'CNY' });
  });

  it('records a notification once it is handed on: concurrent duplicates leave one record, which a later one does not change', async () => {
    const notification: NormalizedNotification = {
      provider: 'wechatpay',
      notificationId: `ntf-${randomUUID()}`,
      paymentId: randomUUID(),
      transactionId: 'txn-1',
      outcome: 'success',
      amountMinor: 100,
    };
    const key = `wechatpay:${notification.notificationId}`;
    expect(await notifications.find(key)).toBeNull();
    await Promise.all(Array.from({ length: 10 }, () => notifications.recordHandedOff(notification, 'event-1', new Date())));
    expect(await connection.collection('notifications').countDocuments({ _id: key as never })).toBe(1);
    await notifications.recordHandedOff(notification, 'event-2', new Date());
    expect(await notifications.find(key)).toEqual({ key, eventId: 'event-1', handedOff: true });
  });
});
