import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import mongoose, { type Connection } from 'mongoose';
import { createEvent } from '@pay/contracts';
import { createLogger } from '@pay/logger';
import { Broker, declareTopology, defineServiceEvents } from '../src';
import { claimTestEvents } from './support/claim-test-events';
import { deleteBrokerTopology } from '../../../test/support/broker-cleanup';
import { isolatedPrefix, testAmqpUrl, testMongoUrl } from '../../../test/support/isolation';
import { eventually } from '../../../test/support/stack';

const WORKER = path.join(__dirname, 'support', 'claiming-worker.ts');
const REPO_ROOT = path.join(__dirname, '..', '..', '..');
const retryDelaysMs = [200, 400];
/** Stands in for the order service, the producer of order.created. */
const publisherEvents = defineServiceEvents({ service: 'order-service', emits: ['order.created'], consumes: [] });

interface WorkerLine {
  worker: number;
  ready?: boolean;
  handling?: string;
  consumed?: string;
}

interface Worker {
  child: ChildProcess;
  lines: WorkerLine[];
}

/** Two copies of one event, two consumer processes: the inbox claim decides which one acts. */
describe('claims across consumer processes (real RabbitMQ, real database)', () => {
  let prefix: string;
  let db: Connection;
  let publisher: Broker;
  const workers: Worker[] = [];

  function startWorker(settings: { handlerMs: number; leaseMs: number }): Worker {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        TEST_MONGO_URL: testMongoUrl(),
        TEST_AMQP_URL: testAmqpUrl(),
        WORKER_PREFIX: prefix,
        WORKER_DB: prefix,
        RETRY_DELAYS_MS: retryDelaysMs.join(','),
        HANDLER_MS: String(settings.handlerMs),
        LEASE_MS: String(settings.leaseMs),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const worker: Worker = { child, lines: [] };
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as WorkerLine;
        if (parsed.worker) worker.lines.push(parsed);
      } catch {
        // not one of the worker's reports
      }
    });
    workers.push(worker);
    return worker;
  }

  const ready = (worker: Worker) => eventually('worker ready', async () => worker.lines.some((line) => line.ready), 30_000);
  const outcomes = (...of: Worker[]) => of.flatMap((worker) => worker.lines.flatMap((line) => (line.consumed ? [line.consumed] : [])));
  const effects = (eventId: string) => db.collection('effects').countDocuments({ event_id: eventId });
  const settled = async () => {
    const depths = await publisher.queueDepths(claimTestEvents.service);
    return depths.main === 0 && depths.retry === 0 && depths.dead === 0;
  };

  beforeEach(async () => {
    prefix = isolatedPrefix('claims');
    db = await mongoose.createConnection(testMongoUrl(), { dbName: prefix, maxPoolSize: 3 }).asPromise();
    await declareTopology(testAmqpUrl(), prefix, [claimTestEvents], retryDelaysMs);
    publisher = new Broker({ url: testAmqpUrl(), prefix, service: publisherEvents.service, events: publisherEvents, logger: createLogger('claims-test', 'error'), retryDelaysMs });
    await publisher.start();
  });

  afterEach(async () => {
    for (const { child } of workers.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    }
    await publisher.close();
    await deleteBrokerTopology(testAmqpUrl(), prefix, retryDelaysMs, [claimTestEvents]);
    await db.dropDatabase();
    await db.close();
  });

  function orderCreated() {
    return createEvent('order.created', { orderId: randomUUID(), orderNumber: 'ORD-1', userId: 'u1', amountMinor: 100, currency: 'CNY' }, { producer: 'order-service' });
  }

  it('applies two copies of one event delivered at once to two consumer processes once, and acks both', async () => {
    const [first, second] = [startWorker({ handlerMs: 300, leaseMs: 30_000 }), startWorker({ handlerMs: 300, leaseMs: 30_000 })];
    await Promise.all([ready(first!), ready(second!)]);
    const event = orderCreated();
    await Promise.all([publisher.publish(event), publisher.publish(event)]);

    const finished = () => outcomes(first!, second!).filter((outcome) => outcome !== 'busy' && outcome !== 'retried');
    await eventually('both copies settled', async () => finished().length >= 2 && (await settled()), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 500)); // nothing else is on its way
    expect(await effects(event.id)).toBe(1);
    const seen = outcomes(first!, second!);
    expect(seen.filter((outcome) => outcome === 'handled')).toHaveLength(1);
    expect(seen.filter((outcome) => outcome === 'duplicate')).toHaveLength(1);
    // The second copy arrived while the first was being handled (in flight at once), and waited.
    expect(seen).toContain('busy');
    expect(seen).not.toContain('dead_lettered');
    expect(await db.collection('processed_events').findOne({ _id: event.id as never })).toMatchObject({ state: 'done' });
    expect(await settled()).toBe(true);
  });

  it('hands the event of a consumer that crashed mid-handler to another once its lease has run out, and applies it once', async () => {
    const crashing = startWorker({ handlerMs: 60_000, leaseMs: 1500 });
    await ready(crashing);
    const event = orderCreated();
    await publisher.publish(event);
    await eventually('handler running', async () => crashing.lines.some((line) => line.handling === event.id));
    crashing.child.kill('SIGKILL'); // mid-handler: the claim stays behind, "claimed", until its lease runs out

    const survivor = startWorker({ handlerMs: 50, leaseMs: 1500 });
    await eventually('taken over and handled', async () => outcomes(survivor).includes('handled') && (await settled()), 20_000);
    expect(await effects(event.id)).toBe(1);
    const entry = await db.collection('processed_events').findOne({ _id: event.id as never });
    // Inserted by the crashed claimant (1), taken over (2), completed (3).
    expect(entry).toMatchObject({ state: 'done', version: 3 });
    expect(entry!.claimed_by).toContain(`:${survivor.child.pid}:`);
  });
});
