/**
 * One replica of the claim tests' consumer, as its own Node process: the Mongo inbox, prefetch 1, and a
 * deliberately non-idempotent handler (each run inserts one `effects` document) that waits HANDLER_MS
 * first, so that copies delivered to two replicas are in flight at once. Reports on stdout, one JSON
 * object per line with a `worker` field: ready, handling <event id>, consumed <outcome>.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import mongoose from 'mongoose';
import { createInbox } from '@pay/db';
import { createLogger } from '@pay/logger';
import { Broker } from '../../src';
import { claimTestEvents } from './claim-test-events';

function report(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ worker: process.pid, ...line })}\n`);
}

async function main(): Promise<void> {
  const env = process.env;
  const connection = await mongoose.createConnection(env.TEST_MONGO_URL!, { dbName: env.WORKER_DB!, maxPoolSize: 3 }).asPromise();
  const broker = new Broker({
    url: env.TEST_AMQP_URL!,
    prefix: env.WORKER_PREFIX!,
    service: claimTestEvents.service,
    logger: createLogger('claiming-worker', 'error'),
    retryDelaysMs: env.RETRY_DELAYS_MS!.split(',').map(Number),
    maxRetries: 3,
  });
  broker.observer = { onConsumed: (type, outcome) => report({ consumed: outcome, type }) };
  await broker.start();
  const handlerMs = Number(env.HANDLER_MS);
  await broker.consume(
    claimTestEvents,
    {
      'order.created': async (event) => {
        report({ handling: event.id });
        await sleep(handlerMs);
        await connection.db!.collection('effects').insertOne({ event_id: event.id, pid: process.pid });
      },
    },
    { inbox: createInbox(connection, { leaseMs: Number(env.LEASE_MS) }), prefetch: 1 },
  );
  process.once('SIGTERM', () => {
    void broker
      .close()
      .then(() => connection.close())
      .finally(() => process.exit(0));
  });
  report({ ready: true });
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
