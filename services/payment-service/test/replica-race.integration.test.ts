import path from 'node:path';
import mongoose, { type Connection } from 'mongoose';
import type { EventEnvelope } from '@pay/contracts';
import { ensureIndexes } from '@pay/db';
import { createLogger } from '@pay/logger';
import { OutboxRelay } from '@pay/outbox';
import { PaymentAggregate } from '../src/domain/payment';
import { expirePayment, startPayment } from '../src/domain/payment-moves';
import { paymentModel, type PaymentModel } from '../src/data-access/payment-model';
import { PaymentRepository } from '../src/data-access/payment-repository';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';
import { runWorkerProcess } from '../../../test/support/worker-processes';
import type { RaceInput, RaceMove } from './support/race-worker';

const WORKER = path.join(__dirname, 'support', 'race-worker.ts');
const PER_SCENARIO = 12;
const origin = { producer: 'test' };

/**
 * Two payment-service processes (not two calls in one process) make conflicting moves on the same
 * payments at the same instant, on the real database. Each payment must show exactly one outcome of the
 * race: one event per applied move, the version up by one per applied move, nothing applied twice.
 */
describe('two replicas racing every move of one payment (real database, two processes)', () => {
  let connection: Connection;
  let model: PaymentModel;
  let store: PaymentRepository;
  let relay: OutboxRelay;
  let dbName: string;

  beforeAll(async () => {
    dbName = isolatedPrefix('race');
    connection = await mongoose.createConnection(testMongoUrl(), { dbName, maxPoolSize: 5 }).asPromise();
    model = paymentModel(connection);
    // No broker: every event stays in its document's outbox, where the test counts it.
    relay = new OutboxRelay({ models: [], publisher: { publish: () => Promise.reject(new Error('no broker in this test')) }, logger: createLogger('race', 'error') });
    store = new PaymentRepository(model, relay);
    await ensureIndexes(connection);
  });

  afterAll(async () => {
    await relay.stop();
    await connection.dropDatabase();
    await connection.close();
  });

  async function payment(status: 'processing' | 'expired', n: number): Promise<string> {
    const opened = PaymentAggregate.open({
      id: `${status}-${n}-${Math.random().toString(36).slice(2, 8)}`,
      order: { id: `order-${status}-${n}-${Math.random().toString(36).slice(2, 8)}`, userId: 'alice', amountMinor: 9900, currency: 'CNY' },
      method: 'wechat',
      actor: 'customer:alice',
      ttlMinutes: 30,
      origin,
    });
    await store.insert(opened);
    if (status === 'processing') await startPayment(store, opened.id, 'customer:alice', origin);
    else await expirePayment(store, opened.id, 'admin:ops', origin);
    return opened.id;
  }

  /** The stored payment, its version, and the events its writes after `sinceVersion` added, in order. */
  async function after(id: string, sinceVersion: number) {
    const document = (await model.collection.findOne({ _id: id as never }))!;
    const events = Object.entries(document.outbox as Record<string, EventEnvelope>)
      .filter(([key]) => Number(key.slice(0, 12)) > sinceVersion)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, event]) => event.type);
    return { document, events };
  }

  it('applies exactly one outcome of each race: succeed/succeed, succeed/expire, succeed/cancel, late success/late success', async () => {
    const scenarios: { name: string; setup: 'processing' | 'expired'; first: RaceMove; second: RaceMove }[] = [
      { name: 'succeed vs succeed', setup: 'processing', first: 'succeed', second: 'succeed' },
      { name: 'succeed vs expire', setup: 'processing', first: 'succeed', second: 'expire' },
      { name: 'succeed vs cancel', setup: 'processing', first: 'succeed', second: 'cancel' },
      { name: 'late success vs late success', setup: 'expired', first: 'succeed', second: 'succeed' },
    ];
    const cases: { scenario: (typeof scenarios)[number]; paymentId: string; version: number }[] = [];
    for (const scenario of scenarios) {
      for (let n = 0; n < PER_SCENARIO; n++) {
        const paymentId = await payment(scenario.setup, n);
        cases.push({ scenario, paymentId, version: (await store.load(paymentId))!.version });
      }
    }
    const startAt = Date.now() + 4000; // both processes are up and connected by then
    const input = (worker: 'first' | 'second'): RaceInput => ({
      mongoUrl: testMongoUrl(),
      dbName,
      startAt,
      // One provider report delivered to both replicas: the same transaction (another one would be a
      // second charge, a duplicate payment: payment-state-machine.test.ts).
      moves: cases.map(({ scenario, paymentId }) => ({ paymentId, move: scenario[worker], transactionId: `txn-${paymentId}` })),
    });
    const [firstOutcomes, secondOutcomes] = await Promise.all([
      runWorkerProcess<string[]>(WORKER, input('first')),
      runWorkerProcess<string[]>(WORKER, input('second')),
    ]);

    const seen: Record<string, Record<string, number>> = {};
    for (const [index, { scenario, paymentId, version }] of cases.entries()) {
      const outcomes = [firstOutcomes[index]!, secondOutcomes[index]!];
      const { document, events } = await after(paymentId, version);
      const applied = document.version - version;
      const shape = `${document.status}${document.late_success ? '+late' : ''} ${events.join(',')} [${[...outcomes].sort().join(' | ')}]`;
      (seen[scenario.name] ??= {})[shape] = ((seen[scenario.name] ??= {})[shape] ?? 0) + 1;
      expect(applied).toBe(events.length); // each applied move here is one write with one event: nothing applied twice
      expect(document.logs.filter((log: { event: string }) => log.event === 'succeeded')).toHaveLength(document.status === 'succeeded' ? 1 : 0);
      switch (scenario.name) {
        case 'succeed vs succeed':
          expect(document.status).toBe('succeeded');
          expect(events).toEqual(['payment.succeeded']);
          expect(outcomes.sort()).toEqual(['already_succeeded', 'succeeded']);
          break;
        case 'succeed vs expire':
        case 'succeed vs cancel': {
          const closed = scenario.second === 'expire' ? 'expired' : 'cancelled';
          if (document.status === 'succeeded') {
            expect(events).toEqual(['payment.succeeded']);
            expect(outcomes).toEqual(['succeeded', 'refused:illegal_transition']);
          } else {
            // The close won; the success that came after it is money taken for a closed payment.
            expect(document).toMatchObject({ status: closed, late_success: true, transaction_id: `txn-${paymentId}` });
            expect(events).toEqual([`payment.${closed}`, 'payment.late_success']);
            expect(outcomes).toEqual(['late_success', closed]);
          }
          break;
        }
        case 'late success vs late success':
          expect(document).toMatchObject({ status: 'expired', late_success: true });
          expect(document.transaction_id).toBe(`txn-${paymentId}`);
          expect(events).toEqual(['payment.late_success']);
          expect(outcomes).toEqual(['late_success', 'late_success']);
          break;
      }
    }
    console.log(`[race] outcomes by scenario: ${JSON.stringify(seen)}`);
  }, 120_000);
});
