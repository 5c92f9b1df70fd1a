import type { IncomingHttpHeaders } from 'node:http';
import express from 'express';
import { finishApp } from '@pay/http';
import { loadConfig } from '@pay/config';
import { createLogger } from '@pay/logger';
import { createMetrics, type ServiceMetrics } from '@pay/metrics';
import { gatewayConfigSchema } from '../src/config';
import { serveInProcess } from '../../../test/support/in-process';

export { rawGet as rawRequest } from '../../../test/support/in-process';
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
  const server = await serveInProcess(app);
  return { url: server.url, seen, close: server.close };
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
  const server = await serveInProcess(app);
  return { url: server.url, metrics, close: server.close };
}




