/**
 * `npm run dlq -- <consumer> [--replay] [--max N]`: how many messages wait in a consumer's queues, and
 * (with --replay) put its dead letters back on its queue once the cause is fixed.
 * Uses AMQP_URL (default local RabbitMQ) and BROKER_PREFIX (default `payments-dev`, as `npm start`).
 * With one broker user per service (deployments), --replay must log in as that consumer's own user: the
 * consumer trusts the recorded producer of a re-published message only under its own login
 * (docs/architecture.md, "Broker rights"); replayed under another login, the events are refused again.
 */
import { parseArgs } from 'node:util';
import { createLogger } from '@pay/logger';
import { Broker } from '@pay/messaging';
import { ALL_SERVICE_EVENTS } from '../libs/harness/src/topology';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { replay: { type: 'boolean', default: false }, max: { type: 'string', default: '1000' } } });
  const consumer = positionals[0];
  const consumers = ALL_SERVICE_EVENTS.filter((events) => events.consumes.length > 0).map((events) => events.service);
  if (!consumer || !consumers.includes(consumer)) {
    console.error(`usage: npm run dlq -- <${consumers.join('|')}> [--replay] [--max N]`);
    process.exit(2);
  }
  const broker = new Broker({
    url: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    prefix: process.env.BROKER_PREFIX ?? 'payments-dev',
    service: 'dlq-tool',
    logger: createLogger('dlq-tool', 'warn'),
  });
  await broker.start();
  try {
    console.log(`${consumer} queues:`, await broker.queueDepths(consumer));
    if (values.replay) console.log(`replayed ${await broker.replayDeadLetters(consumer, Number(values.max))} dead letter(s)`);
  } finally {
    await broker.close();
  }
}

void main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
