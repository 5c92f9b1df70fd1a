import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { Logger } from '@pay/logger';
import { BrokerUnavailable } from './errors';

export interface ConnectionOptions {
  url: string;
  /** Shown in the broker's connection list. */
  name: string;
  logger: Logger;
  reconnectDelayMs: number;
  /**
   * How long `open` keeps trying at start-up (a broker that is still starting, a network not yet up);
   * 0: one attempt. Default DEFAULT_CONNECT_TIMEOUT_MS.
   */
  connectTimeoutMs?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 60_000;
/** The pause after the first failed start-up attempt; it doubles after each one, up to the maximum. */
export const CONNECT_RETRY_FIRST_MS = 500;
export const CONNECT_RETRY_MAX_MS = 5_000;

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

  /**
   * Connects, retrying with back-off (0.5 s doubling to 5 s) for up to `connectTimeoutMs`: a service
   * started while RabbitMQ is down for a moment waits for it (and is not ready until then) instead of
   * exiting. Each failed attempt is logged once, at warn. A refusal that no retry can mend (credentials,
   * vhost, a declaration the broker refuses) fails at once. Throws a message naming the fix.
   */
  async open(): Promise<void> {
    const timeoutMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const started = Date.now();
    let delayMs = CONNECT_RETRY_FIRST_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.connect();
        if (attempt > 1) this.options.logger.info('connected to the broker', { attempts: attempt });
        return;
      } catch (error) {
        const message = (error as Error).message;
        const remainingMs = timeoutMs - (Date.now() - started);
        if (this.closing || isPermanent(error) || remainingMs <= 0) {
          const tried = attempt > 1 ? ` after ${attempt} attempts in ${Math.round((Date.now() - started) / 1000)} s (BROKER_CONNECT_TIMEOUT_MS=${timeoutMs})` : '';
          throw new BrokerUnavailable(`cannot reach RabbitMQ at ${redactUrl(this.options.url)}${tried} (${message}); start RabbitMQ or set AMQP_URL`);
        }
        const pauseMs = Math.min(delayMs, remainingMs);
        this.options.logger.warn('broker not reachable yet; retrying', { attempt, error: message, retry_in_ms: pauseMs });
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
        delayMs = Math.min(delayMs * 2, CONNECT_RETRY_MAX_MS);
      }
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

/** Refusals a retry cannot mend: wrong credentials or vhost, a declaration the broker refuses, a bad URL. */
function isPermanent(error: unknown): boolean {
  if (error instanceof TypeError) return true;
  return /ACCESS[-_]REFUSED|NOT[-_]ALLOWED|PRECONDITION[-_]FAILED/.test((error as Error).message ?? '');
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');
}
