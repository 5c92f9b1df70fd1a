import net from 'node:net';
import { freePort } from '@pay/harness';

export interface BrokerProxy {
  port: number;
  /** An AMQP URL through the proxy, with the credentials (and vhost) of `targetUrl`. */
  url: string;
  /** Whether the proxy currently accepts connections. */
  readonly running: boolean;
  /** "Broker down": stops listening AND cuts every open connection (both ends). */
  stop(): Promise<void>;
  /** "Broker back": listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of the shared RabbitMQ, so one test can take "the broker" away from its own
 * stack without stopping the broker other test files use in parallel.
 */
export async function startBrokerProxy(targetUrl: string): Promise<BrokerProxy> {
  const target = new URL(targetUrl);
  const targetHost = target.hostname || '127.0.0.1';
  const targetPort = Number(target.port || 5672);
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;

  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // A cut connection reports ECONNRESET/EPIPE; the other side is destroyed with it.
    socket.on('error', () => socket.destroy());
  };

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const listener = net.createServer((client) => {
        const upstream = net.connect({ host: targetHost, port: targetPort });
        track(client);
        track(upstream);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
      });
      listener.once('error', reject);
      listener.listen(port, '127.0.0.1', () => {
        listener.off('error', reject);
        server = listener;
        resolve();
      });
    });

  const stop = async () => {
    const listener = server;
    server = null;
    const closed = listener ? new Promise<void>((resolve) => listener.close(() => resolve())) : Promise.resolve();
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await closed;
  };

  await listen();
  const through = new URL(targetUrl);
  through.hostname = '127.0.0.1';
  through.port = String(port);
  return {
    port,
    url: through.toString().replace(/\/$/, ''),
    get running() {
      return server !== null;
    },
    stop,
    async start() {
      if (!server) await listen();
    },
    close: stop,
  };
}
