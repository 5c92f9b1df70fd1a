import { randomUUID } from 'node:crypto';
import mongoose from 'mongoose';
import { databaseName } from '@pay/db';
import { prefill } from './limits';

/**
 * Stores `count` settled orders and payments straight into the stack's collections (shaped as the
 * services store them, every unique field set), so the flows that follow run against that much data.
 */
export async function storeHistory(mongoUrl: string, dbPrefix: string, count: number): Promise<void> {
  const orders = await mongoose.createConnection(mongoUrl, { dbName: databaseName(dbPrefix, 'orders'), maxPoolSize: 2 }).asPromise();
  const payments = await mongoose.createConnection(mongoUrl, { dbName: databaseName(dbPrefix, 'payments'), maxPoolSize: 2 }).asPromise();
  try {
    const at = new Date(Date.now() - 86_400_000);
    await prefill(count, async (batch) => {
      const ids = Array.from({ length: batch }, () => ({ order: randomUUID(), payment: randomUUID(), user: `history-${Math.floor(Math.random() * 1000)}` }));
      await orders.db!.collection('orders').insertMany(
        ids.map(({ order, payment, user }) => ({
          _id: order as never, order_number: `ORD-H-${order}`, user_id: user,
          items: [{ product_id: 'p1', name: 'Tea', unit_price_minor: 100, quantity: 1 }], total_amount_minor: 100, currency: 'CNY',
          status: 'paid', payment_id: payment, created_at: at, updated_at: at, history: [], idempotency_key: `none:${order}`, request_fingerprint: null,
          version: 3, outbox: {}, outbox_pending: false, outbox_lease_until: null, outbox_lease_owner: null,
        })),
      );
      await payments.db!.collection('payments').insertMany(
        ids.map(({ order, payment, user }) => ({
          _id: payment as never, order_id: order, user_id: user, amount_minor: 100, currency: 'CNY', method: 'wechat', status: 'succeeded',
          live_key: order, transaction_id: `t-${payment}`, provider: 'mock', late_success: false, expires_at: at, created_at: at, updated_at: at, logs: [],
          version: 4, outbox: {}, outbox_pending: false, outbox_lease_until: null, outbox_lease_owner: null,
        })),
      );
      await payments.db!.collection('known_orders').insertMany(
        ids.map(({ order, user }) => ({ _id: order as never, order_number: `ORD-H-${order}`, user_id: user, amount_minor: 100, currency: 'CNY', status: 'pending_payment', version: 1 })),
      );
    });
  } finally {
    await orders.close();
    await payments.close();
  }
}
