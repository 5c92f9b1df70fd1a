import amqp from 'amqplib';
import { DEFAULT_RETRY_DELAYS_MS } from './retry-policy';
import type { ServiceEvents } from './service-events';
import { exchangeName, queueNames } from './topology';

/** Removes an environment's exchange and its services' queues (test runs, benchmarks); their messages go with them. */
export async function deleteBrokerTopology(
  url: string,
  prefix: string,
  declarations: readonly Pick<ServiceEvents, 'service'>[],
  retryDelaysMs: readonly number[] = DEFAULT_RETRY_DELAYS_MS,
): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    for (const { service } of declarations) {
      const names = queueNames(prefix, service, retryDelaysMs);
      for (const queue of [names.main, ...names.retries, names.dead]) await channel.deleteQueue(queue);
      await channel.deleteExchange(names.moves);
    }
    await channel.deleteExchange(exchangeName(prefix));
    await channel.close();
  } finally {
    await connection.close();
  }
}
