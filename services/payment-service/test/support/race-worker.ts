/**
 * A second (and third) payment-service for the replica race test: its own process, its own connection,
 * the real repository. At the agreed instant it runs every move it was given, all at once, and prints
 * each move's outcome (or the error code that refused it).
 */
import mongoose from 'mongoose';
import { createLogger } from '@pay/logger';
import { OutboxRelay } from '@pay/outbox';
import { expirePayment, cancelPayment } from '../../src/domain/payment-moves';
import { processPaymentSuccess } from '../../src/domain/process-success';
import { paymentModel } from '../../src/data-access/payment-model';
import { PaymentRepository } from '../../src/data-access/payment-repository';
import { runAsWorker, waitUntil } from '../../../../test/support/worker-processes';

export type RaceMove = 'succeed' | 'expire' | 'cancel';
export interface RaceInput {
  mongoUrl: string;
  dbName: string;
  startAt: number;
  moves: { paymentId: string; move: RaceMove; transactionId: string }[];
}

runAsWorker(async (input: RaceInput) => {
  const logger = createLogger('race-worker', 'error');
  const connection = await mongoose.createConnection(input.mongoUrl, { dbName: input.dbName, maxPoolSize: 4 }).asPromise();
  // The broker is "down" for this replica: the events stay in the documents, where the test counts them.
  const relay = new OutboxRelay({ models: [], publisher: { publish: () => Promise.reject(new Error('no broker in this test')) }, logger });
  const store = new PaymentRepository(paymentModel(connection), relay);
  const origin = { producer: 'race-worker' };
  await waitUntil(input.startAt);
  const outcomes = await Promise.all(
    input.moves.map(async ({ paymentId, move, transactionId }) => {
      try {
        if (move === 'succeed') {
          const report = { transactionId, provider: 'mock' as const, actor: 'provider:mock', origin };
          return (await processPaymentSuccess(store, paymentId, report, logger)).outcome;
        }
        if (move === 'expire') await expirePayment(store, paymentId, 'system:sweeper', origin);
        else await cancelPayment(store, paymentId, 'order cancelled', 'system:order-cancelled', origin);
        return move === 'expire' ? 'expired' : 'cancelled';
      } catch (error) {
        return `refused:${(error as { code?: string }).code ?? (error as Error).message}`;
      }
    }),
  );
  await relay.stop();
  await connection.close();
  return outcomes;
});
