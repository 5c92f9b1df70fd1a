import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { finishApp } from '@pay/http';
import { loadConfig } from '@pay/config';
import { createLogger } from '@pay/logger';
import { createMetrics, type ServiceMetrics } from '@pay/metrics';
import { gatewayConfigSchema } from '../src/config';
import { createGatewayApp } from '../src/entry-points/http/gateway-app';

export const INTERNAL_SECRET = 'gateway-test-internal-secret-0123456789ab';
export const JWT_SECRET = 'gateway-test-public-jwt-secret-0123456789';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** Stands in for the three internal services: records what the gateway forwarded and answers 200. */
export interface StubUpstream {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export async function startStubUpstream(): Promise<StubUpstream> {
  const seen: SeenRequest[] = [];
  const app = express();
  app.use((req, res) => {
    seen.push({ method: req.method, url: req.originalUrl, headers: req.headers });
    res.json({ forwarded: req.originalUrl });
  });
  const server = await listenOnFreePort(app);
  return { url: baseUrl(server), seen, close: () => closeServer(server) };
}

export interface InProcessGateway {
  url: string;
  metrics: ServiceMetrics;
  close(): Promise<void>;
}

/** The real gateway app (config parsed from `env` like the process does), in-process on a free port. */
export async function startGateway(upstream: string, env: NodeJS.ProcessEnv = { JWT_SECRET }): Promise<InProcessGateway> {
  const config = loadConfig(gatewayConfigSchema, {
    INTERNAL_TOKEN_SECRET: INTERNAL_SECRET,
    ORDER_SERVICE_URL: upstream,
    PAYMENT_SERVICE_URL: upstream,
    AUDIT_SERVICE_URL: upstream,
    ...env,
  });
  const logger = createLogger('api-gateway', 'error');
  const metrics = createMetrics('api-gateway');
  const app = createGatewayApp(config, { logger, metrics, readiness: {} });
  finishApp(app, logger);
  const server = await listenOnFreePort(app);
  return { url: baseUrl(server), metrics, close: () => closeServer(server) };
}

/** A request whose path is sent byte for byte (fetch would normalise `..` before sending). */
export function rawRequest(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function listenOnFreePort(app: express.Express): Promise<Server> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return server;
}

function baseUrl(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
