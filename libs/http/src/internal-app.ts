import express, { type ErrorRequestHandler, type Express } from 'express';
import type { Logger } from '@pay/logger';
import type { ServiceMetrics } from '@pay/metrics';
import { checkReadiness, type Readiness } from './readiness';

export interface InternalAppOptions {
  service: string;
  logger: Logger;
  metrics: ServiceMetrics;
  readiness: Readiness;
}

/**
 * The app of the internal listener (METRICS_PORT), for Prometheus and operators only: `/metrics`, `/readyz`
 * with each dependency's state, and `/healthz` naming the service (the harness checks that the port it was
 * told is this service's). The public port answers neither `/metrics` nor which dependency is down: they
 * describe the inside (design: "`/metrics` is served on an internal port, not on the public ones").
 */
export function createInternalApp(options: InternalAppOptions): Express {
  const { metrics, logger } = options;
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', service: options.service });
  });
  app.get('/readyz', async (_req, res) => {
    const { ready, checks } = await checkReadiness(options.readiness);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  app.use((req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: `no route for ${req.method} ${req.path}` } });
  });
  app.use(((error: unknown, _req, res, _next) => {
    logger.error('internal listener failed', { error });
    res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
  }) as ErrorRequestHandler);
  return app;
}
