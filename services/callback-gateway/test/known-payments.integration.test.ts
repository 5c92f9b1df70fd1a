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

  it('records a notification once: concurrent duplicates see the first, and it is handed off once marked', async () => {
    const notification: NormalizedNotification = {
      provider: 'wechatpay',
      notificationId: `ntf-${randomUUID()}`,
      paymentId: randomUUID(),
      transactionId: 'txn-1',
      outcome: 'success',
      amountMinor: 100,
    };
    const results = await Promise.all(Array.from({ length: 10 }, () => notifications.recordOnce(notification, 'event-1', new Date())));
    expect(results.filter((result) => result === null)).toHaveLength(1);
    const key = `wechatpay:${notification.notificationId}`;
    expect(results.filter((result) => result !== null)).toEqual(Array(9).fill({ key, eventId: 'event-1', handedOff: false }));

    await Promise.all(Array.from({ length: 5 }, () => notifications.markHandedOff(key)));
    expect(await notifications.recordOnce(notification, 'event-2', new Date())).toEqual({ key, eventId: 'event-1', handedOff: true });
  });
});
