import amqp from 'amqplib';
import { CONSUMER_BINDINGS, DEFAULT_RETRY_DELAYS_MS, exchangeName, queueNames } from './topology';

/** Removes an environment's exchange and queues (test runs, benchmarks); their messages go with them. */
export async function deleteBrokerTopology(url: string, prefix: string, retryDelaysMs: readonly number[] = DEFAULT_RETRY_DELAYS_MS): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    for (const consumer of Object.keys(CONSUMER_BINDINGS)) {
      const names = queueNames(prefix, consumer, retryDelaysMs);
      for (const queue of [names.main, ...names.retries, names.dead]) await channel.deleteQueue(queue);
    }
    await channel.deleteExchange(exchangeName(prefix));
    await channel.close();
  } finally {
    await connection.close();
  }
}
