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
  /** From the first publish until the fold has passed as many records as the burst (every event is checked to be a record after). */
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
    // Read by `_id` only while waiting: a count reads the whole collection on FerretDB, and the bench's
    // own polling would compete with the audit it measures.
    const seqOf = async (collection: string, id: string) => Number((await connection.collection(collection).findOne({ _id: id as never }))?.seq ?? 0);
    const before = await seqOf('chain_head', 'head');
    const burst = Array.from({ length: count }, (_, i) => auditOnlyEvent(i));
    const started = performance.now();
    const [, publishMs] = await timed(async () => {
      for (let i = 0; i < burst.length; i += 200) await Promise.all(burst.slice(i, i + 200).map((event) => broker.publish(event)));
    });
    const waitUntil = async (done: () => Promise<boolean>) => {
      while (!(await done())) {
        if (performance.now() - started > 600_000) throw new Error(`audit bench: not all ${count} events recorded and folded after 10 minutes`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    // Timed until the fold has passed as many records as the burst: cheap reads, and records are what the
    // audit writes (its own anchor records among them). Then, untimed, every burst event must be a record.
    const folded = () => seqOf('fold_cursor', 'daily_stats');
    await waitUntil(async () => (await folded()) >= before + count);
    const seconds = (performance.now() - started) / 1000;
    let missing = burst.map((event) => event.id);
    await waitUntil(async () => {
      const found = await Promise.all(missing.map((id) => records.findOne({ _id: id as never }, { projection: { _id: 1 } })));
      missing = missing.filter((_, i) => !found[i]);
      return missing.length === 0;
    });
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
