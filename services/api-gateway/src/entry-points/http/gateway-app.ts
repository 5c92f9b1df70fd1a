import type { Express } from 'express';
import { createHttpApp, type HttpAppOptions } from '@pay/http';
import type { GatewayConfig } from '../../config';
import { apiDocsRoutes } from './docs';
import { gatewayRoutes } from './routes';

/** The gateway's express app: the shared base (helmet, request ids, metrics, health), /docs and /api/v1. */
export function createGatewayApp(config: GatewayConfig, base: Pick<HttpAppOptions, 'logger' | 'metrics' | 'readiness'>): Express {
  const app = createHttpApp({ service: 'api-gateway', ...base, bodyLimit: '32kb' });
  app.set('trust proxy', config.TRUST_PROXY_HOPS);
  app.use('/docs', apiDocsRoutes());
  app.use('/api/v1', gatewayRoutes(config, base.logger));
  return app;
}
