import type { ChannelModel } from 'amqplib';
import type { Publisher } from './publisher';
import type { QueueNames } from './topology';

export interface DeadLetter {
  content: unknown;
  headers: Record<string, unknown>;
}

/** Reads (and removes) messages from a dead-letter queue; for operators and tests. */
export async function drainDeadLetters(connection: ChannelModel, names: QueueNames, max: number): Promise<DeadLetter[]> {
  const channel = await connection.createChannel();
  const out: DeadLetter[] = [];
  try {
    for (let i = 0; i < max; i++) {
      const message = await channel.get(names.dead, { noAck: true });
      if (!message) break;
      out.push({ content: JSON.parse(message.content.toString('utf8')), headers: message.properties.headers ?? {} });
    }
  } finally {
    await channel.close().catch(() => undefined);
  }
  return out;
}

/**
 * Puts dead-lettered messages back on the consumer's queue with a fresh retry budget (after the cause
 * was fixed). Each is confirmed on the queue before it leaves the dead-letter queue: at worst a message
 * is delivered twice, which consumers absorb by event id.
 */
export async function replayDeadLetters(connection: ChannelModel, publisher: Publisher, names: QueueNames, max: number): Promise<number> {
  const channel = await connection.createChannel();
  let replayed = 0;
  try {
    for (; replayed < max; replayed++) {
      const message = await channel.get(names.dead, { noAck: false });
      if (!message) break;
      await publisher.moveTo({ exchange: names.moves, queue: names.main }, message, 0, 'replayed from the dead-letter queue');
      channel.ack(message);
    }
  } finally {
    await channel.close().catch(() => undefined);
  }
  return replayed;
}
