import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Logger } from '@pay/logger';
import { answerProtocolErrorsInFormat } from './protocol-errors';

export interface RunningServer {
  server: Server;
  port: number;
  /** Stops accepting connections and waits for in-flight requests (bounded). */
  close(): Promise<void>;
}

/** Serves `app` on host:port (0: a port the OS picks); `what` names the listener in the log line. */
export function listen(app: Express, port: number, host: string, logger: Logger, what = 'http'): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host);
    answerProtocolErrorsInFormat(server);
    server.once('error', reject);
    server.once('listening', () => {
      const address = server.address();
      const actual = typeof address === 'object' && address ? address.port : port;
      logger.info(`${what} listening`, { host, port: actual });
      resolve({
        server,
        port: actual,
        close: () =>
          new Promise<void>((done) => {
            const force = setTimeout(() => server.closeAllConnections(), 10_000);
            server.close(() => {
              clearTimeout(force);
              done();
            });
            server.closeIdleConnections();
          }),
      });
    });
  });
}

/**
 * Graceful shutdown on SIGTERM/SIGINT: run the steps in order (stop taking work, finish in-flight,
 * close connections), then exit. A stuck step forces exit after the timeout.
 */
export function onShutdown(logger: Logger, steps: (() => Promise<void>)[], timeoutMs = 20_000): void {
  let stopping = false;
  const stop = async (signal: string) => {
    // Ctrl-C reaches a whole process group and a supervisor may add its own SIGTERM: a repeated signal
    // must not cut the graceful stop short (the timeout below still bounds it).
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    const force = setTimeout(() => {
      logger.error('shutdown timed out; exiting');
      process.exit(1);
    }, timeoutMs);
    force.unref();
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        logger.warn('shutdown step failed', { error: (error as Error).message });
      }
    }
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
