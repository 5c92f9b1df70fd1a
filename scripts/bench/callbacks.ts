import { randomUUID } from 'node:crypto';
import { createEvent } from '@pay/contracts';
import { buildProviderCallback, sendProviderCallback, type Stack, type generateDevSecrets } from '@pay/harness';
import { createLogger } from '@pay/logger';
import { Broker, defineServiceEvents, deleteBrokerTopology } from '@pay/messaging';
import { createMockProvider } from '@pay/providers';
import { timed } from './measure';

const logger = createLogger('bench', 'error');

async function inParallel(count: number, concurrency: number, one: (index: number) => Promise<void>): Promise<number> {
  let next = 0;
  const [, ms] = await timed(() =>
    Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) await one(next++);
      }),
    ),
  );
  return count / (ms / 1000);
}

export interface CallbackFigures {
  gatewayPerSecond: number;
  bareLoopPerSecond: number;
}

/**
 * The callback gateway alone (verified callbacks/s for payments it knows, each a new notification)
 * against a bare loop doing the irreducible part of the same work in-process: verify the same kind of
 * signature, publish the verified event with a confirm.
 */
export async function measureCallbacks(
  stack: Stack,
  secrets: ReturnType<typeof generateDevSecrets>,
  amqpUrl: string,
  prefix: string,
  paymentIds: string[],
  count: number,
  concurrency: number,
): Promise<CallbackFigures> {
  const gatewayPerSecond = await inParallel(count, concurrency, async (index) => {
    const paymentId = paymentIds[index % paymentIds.length]!;
    const answer = await sendProviderCallback(stack.callbackUrl, { provider: 'mock', paymentId, amountMinor: 100, status: 'SUCCESS' }, secrets.session);
    if (answer.status !== 200) throw new Error(`callback answered ${answer.status}: ${answer.body}`);
  });

  // Publishes as the callback gateway: consumers accept callback.verified from its producer only.
  const events = defineServiceEvents({ service: 'callback-gateway', emits: ['callback.verified'], consumes: ['callback.verified'] });
  const broker = new Broker({ url: amqpUrl, prefix, service: events.service, logger, events });
  await broker.start();
  // Bound so the confirmed publishes are routable (a consumer that only counts).
  await broker.consume(events, { 'callback.verified': async () => undefined });
  const provider = createMockProvider({ secret: secrets.session.mockProviderSecret });
  const bareLoopPerSecond = await inParallel(count, concurrency, async (index) => {
    const paymentId = paymentIds[index % paymentIds.length]!;
    const built = buildProviderCallback({ provider: 'mock', paymentId, amountMinor: 100, status: 'SUCCESS', notificationId: `bench-${randomUUID()}` }, secrets.session);
    const verified = provider.verify({ headers: Object.fromEntries(Object.entries(built.headers).map(([k, v]) => [k.toLowerCase(), v])), rawBody: Buffer.from(built.body) }, new Date());
    if (!verified.ok) throw new Error(`bare loop: ${verified.reason}`);
    const n = verified.notification;
    await broker.publish(
      createEvent(
        'callback.verified',
        { provider: 'mock', notificationId: n.notificationId, paymentId: n.paymentId, transactionId: n.transactionId, outcome: n.outcome, amountMinor: n.amountMinor, receivedAt: new Date().toISOString(), verifyMs: 0 },
        { producer: 'callback-gateway' },
      ),
    );
  });
  await broker.close();
  await deleteBrokerTopology(amqpUrl, prefix, [events]);
  return { gatewayPerSecond, bareLoopPerSecond };
}
