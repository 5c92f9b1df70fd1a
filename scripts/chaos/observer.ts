/**
 * Every event published on the run's exchange, seen from outside the services: a durable queue bound
 * to `#`, so what is published while the observer is cut off by a broker restart waits for it. The
 * chaos checks compare this with what the audit log recorded (one record per event id).
 */
import amqp, { type ChannelModel } from 'amqplib';
import { exchangeName } from '@pay/messaging';

export interface ObservedEvent {
  type: string;
  data: Record<string, unknown>;
  /** Times the broker delivered it (a republish after a crash is allowed: consumers de-duplicate by id). */
  deliveries: number;
}

export class BusObserver {
  readonly events = new Map<string, ObservedEvent>();
  private connection: ChannelModel | null = null;
  private stopped = false;
  private readonly queue: string;

  constructor(
    private readonly amqpUrl: string,
    private readonly prefix: string,
  ) {
    this.queue = `${prefix}.chaos-observer`;
  }

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const connection = await amqp.connect(this.amqpUrl);
    this.connection = connection;
    const reconnect = () => {
      if (this.stopped) return;
      this.connection = null;
      void this.retryConnect();
    };
    connection.on('close', reconnect);
    connection.on('error', () => undefined);
    const channel = await connection.createChannel();
    await channel.assertExchange(exchangeName(this.prefix), 'topic', { durable: true });
    await channel.assertQueue(this.queue, { durable: true });
    await channel.bindQueue(this.queue, exchangeName(this.prefix), '#');
    await channel.prefetch(500);
    await channel.consume(this.queue, (message) => {
      if (!message) return;
      try {
        const event = JSON.parse(message.content.toString('utf8')) as { id: string; type: string; data: Record<string, unknown> };
        const seen = this.events.get(event.id);
        if (seen) seen.deliveries += 1;
        else this.events.set(event.id, { type: event.type, data: event.data ?? {}, deliveries: 1 });
      } catch {
        // Not an envelope: the audit check reports it through the dead-letter queues, not here.
      }
      channel.ack(message);
    });
  }

  private async retryConnect(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.connect();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 200 * 2 ** attempt)));
      }
    }
  }

  /** Waits until no new event arrived for `quietMs`. */
  async settle(quietMs: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = -1;
    let quietSince = Date.now();
    while (Date.now() < deadline) {
      const count = [...this.events.values()].reduce((sum, event) => sum + event.deliveries, 0);
      if (count !== last) {
        last = count;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= quietMs) {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const connection = this.connection;
    if (!connection) return;
    try {
      const channel = await connection.createChannel();
      await channel.deleteQueue(this.queue);
    } catch {
      // The run's topology is deleted with the run anyway.
    }
    await connection.close().catch(() => undefined);
  }
}
