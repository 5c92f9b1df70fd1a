import mongoose from 'mongoose';
import { createEvent, type AnyEvent } from '@pay/contracts';
import { databaseName } from '@pay/db';
import { createLogger } from '@pay/logger';
import { Broker, defineServiceEvents } from '@pay/messaging';
import { timed } from './measure';

const logger = createLogger('bench', 'error');

export interface AuditFigures {
  events: number;
  publishedPerSecond: number;
  /** From the first publish until every event is a record and its day's figures count it. */
  recordedPerSecond: number;
  seconds: number;
}

/**
 * A burst of `count` distinct events (audited only: payment.failed / expired / cancelled / duplicate_paid,
 * over a few payments and two days, so the fold writes day figures and reconciliation rows) published
 * with confirms as payment-service, as fast as the broker takes them; then the time until the audit
 * service has recorded and folded them all. Measures the audit's own rate, not the flows'.
 */
export async function measureAudit(amqpUrl: string, mongoUrl: string, stackPrefix: string, dbPrefix: string, count: number): Promise<AuditFigures> {
  const events = defineServiceEvents({ service: 'payment-service', emits: ['payment.failed', 'payment.expired', 'payment.cancelled', 'payment.duplicate_paid'], consumes: [] });
  const broker = new Broker({ url: amqpUrl, prefix: stackPrefix, service: events.service, logger, events });
  const connection = mongoose.createConnection(mongoUrl, { dbName: databaseName(dbPrefix, 'audit'), maxPoolSize: 2 });
  await Promise.all([broker.start(), connection.asPromise()]);
  try {
    const records = connection.collection('audit_records');
    const before = await records.countDocuments({});
    const burst = Array.from({ length: count }, (_, i) => auditOnlyEvent(i));
    const started = performance.now();
    const [, publishMs] = await timed(async () => {
      for (let i = 0; i < burst.length; i += 200) await Promise.all(burst.slice(i, i + 200).map((event) => broker.publish(event)));
    });
    const expected = before + count;
    const folded = () => connection.collection('fold_cursor').findOne({ _id: 'daily_stats' as never });
    for (;;) {
      const cursor = await folded();
      if (Number(cursor?.seq ?? 0) >= expected && (await records.countDocuments({})) >= expected) break;
      if (performance.now() - started > 600_000) throw new Error(`audit bench: not all ${count} events recorded and folded after 10 minutes`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    return { events: count, publishedPerSecond: count / (publishMs / 1000), recordedPerSecond: count / seconds, seconds };
  } finally {
    await broker.close();
    await connection.close();
  }
}

function auditOnlyEvent(i: number): AnyEvent {
  const n = i % 500;
  const ref = { paymentId: `bench-audit-p${n}`, orderId: `bench-audit-o${n}`, userId: `u${n}`, amountMinor: 100 + n, currency: 'CNY' };
  const occurredAt = new Date(Date.now() - (i % 2) * 86_400_000).toISOString();
  const producer = { producer: 'payment-service' };
  const event = (() => {
    switch (i % 4) {
      case 0:
        return createEvent('payment.failed', { ...ref, reason: 'bench', provider: 'mock', actor: 'provider:mock' }, producer);
      case 1:
        return createEvent('payment.expired', { ...ref, expiresAt: occurredAt, actor: 'system:sweeper' }, producer);
      case 2:
        return createEvent('payment.cancelled', { ...ref, reason: 'bench', actor: `customer:u${n}` }, producer);
      default:
        return createEvent('payment.duplicate_paid', { ...ref, transactionId: `bench-dup-${i}`, provider: 'mock', firstTransactionId: `bench-tx-${n}` }, producer);
    }
  })();
  return { ...event, occurred_at: occurredAt } as AnyEvent;
}
