import { runService } from '@pay/runtime';
import { gatewayConfigSchema } from './config';
import { createGatewayApp } from './entry-points/http/gateway-app';

void runService({
  name: 'api-gateway',
  configSchema: gatewayConfigSchema,
  port: (config) => config.GATEWAY_PORT,
  database: null,
  messaging: false,
  async build({ config, logger, metrics, readiness }) {
    const upstreams = { orders: config.ORDER_SERVICE_URL, payments: config.PAYMENT_SERVICE_URL, audit: config.AUDIT_SERVICE_URL };
    for (const [name, target] of Object.entries(upstreams)) {
      readiness[name] = async () => (await fetch(`${target}/healthz`, { signal: AbortSignal.timeout(2000) })).ok;
    }
    return { app: createGatewayApp(config, { logger, metrics, readiness }) };
  },
});
