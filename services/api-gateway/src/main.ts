import { runService } from '@pay/runtime';
import { gatewayConfigSchema } from './config';
import { createGatewayApp } from './entry-points/http/gateway-app';

void runService({
  name: 'api-gateway',
  configSchema: gatewayConfigSchema,
  port: (config) => config.GATEWAY_PORT,
  metricsPort: (config) => config.METRICS_PORT,
  database: null,
  events: null,
  async build({ config, logger, metrics, readiness }) {
    // Ready as soon as it serves: its readiness does not depend on the services behind it. One backend
    // down (or restarting) must not take the whole API out of the load balancer; the routes of that
    // backend answer 503 (proxy.ts) while the others keep serving.
    return { app: createGatewayApp(config, { logger, metrics, readiness }) };
  },
});
