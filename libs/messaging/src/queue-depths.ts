import type { ChannelModel } from 'amqplib';
import type { QueueNames } from './topology';

export interface QueueDepths {
  /** Consumer lag. */
  main: number;
  /** Failed (or busy) messages waiting out their delay. */
  retry: number;
  dead: number;
}

/** Messages waiting in a consumer's queues, on a short-lived channel: a failed check closes the channel it runs on. */
export async function queueDepths(connection: ChannelModel, names: QueueNames): Promise<QueueDepths> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  try {
    const [main, dead, ...retries] = await Promise.all([names.main, names.dead, ...names.retries].map((queue) => channel.checkQueue(queue)));
    return { main: main!.messageCount, retry: retries.reduce((sum, queue) => sum + queue.messageCount, 0), dead: dead!.messageCount };
  } finally {
    await channel.close().catch(() => undefined);
  }
}
