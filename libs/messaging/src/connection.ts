import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { Logger } from '@pay/logger';
import { BrokerUnavailable } from './errors';

export interface ConnectionOptions {
  url: string;
  /** Shown in the broker's connection list. */
  name: string;
  logger: Logger;
  reconnectDelayMs: number;
}

export interface ConnectionHooks {
  /** Restores what lives on channels (exchange, publisher, consumer) on each new connection, first one included. */
  opened(connection: ChannelModel, confirmChannel: ConfirmChannel): Promise<void>;
  lost(): void;
}

/**
 * One AMQP connection that comes back by itself: after a broker restart or a cut network it reconnects
 * every `reconnectDelayMs` until it succeeds, and hands each new connection to `opened`.
 */
export class BrokerConnection {
  private connection: ChannelModel | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private connecting: Promise<void> | null = null;
  private closing = false;

  constructor(
    private readonly options: ConnectionOptions,
    private readonly hooks: ConnectionHooks,
  ) {}

  get current(): ChannelModel | null {
    return this.connection;
  }

  /** Connects once; throws a message naming the fix when the broker cannot be reached. */
  async open(): Promise<void> {
    try {
      await this.connect();
    } catch (error) {
      throw new BrokerUnavailable(
        `cannot reach RabbitMQ at ${redactUrl(this.options.url)} (${(error as Error).message}); start RabbitMQ or set AMQP_URL`,
      );
    }
  }

  private connect(): Promise<void> {
    this.connecting ??= this.openConnection().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async openConnection(): Promise<void> {
    const connection = await amqp.connect(this.options.url, { clientProperties: { connection_name: this.options.name } });
    connection.on('error', (error: Error) => this.options.logger.warn('broker connection error', { error: error.message }));
    let closed = false;
    connection.on('close', () => {
      closed = true;
      this.handleLost(connection);
    });
    try {
      const confirmChannel = await connection.createConfirmChannel();
      confirmChannel.on('error', (error: Error) => this.options.logger.warn('broker publish channel error', { error: error.message }));
      await this.hooks.opened(connection, confirmChannel);
      if (closed) throw new Error('connection closed while it was being set up');
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
    this.connection = connection;
  }

  private handleLost(connection: ChannelModel): void {
    if (this.connection !== connection) return; // closed by `close`, or never finished opening (`connect` reports that)
    this.connection = null;
    this.hooks.lost();
    if (this.closing) return;
    this.options.logger.warn('broker connection lost; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closing) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().catch((error: Error) => {
        this.options.logger.warn('broker reconnect failed', { error: error.message });
        this.scheduleReconnect();
      });
    }, this.options.reconnectDelayMs);
  }

  /** Stops reconnecting and closes the connection (its channels with it). */
  async close(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const connection = this.connection;
    this.connection = null;
    if (connection) this.hooks.lost();
    await connection?.close().catch(() => undefined);
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');
}
