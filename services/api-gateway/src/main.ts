import { runService } from '@pay/runtime';
import { gatewayConfigSchema } from './config';
import { createGatewayApp } from './entry-points/http/gateway-app';

async function anyAlive(targets: readonly string[]): Promise<boolean> {
  const alive = async (target: string) => {
    const response = await fetch(`${target}/healthz`, { signal: AbortSignal.timeout(2000) });
    if (!response.ok) throw new Error(`${target}: ${response.status}`);
    return true;
  };
  return Promise.any(targets.map(alive)).catch(() => false);
}

void runService({
  name: 'api-gateway',
  configSchema: gatewayConfigSchema,
  port: (config) => config.GATEWAY_PORT,
  database: null,
  events: null,
  async build({ config, logger, metrics, readiness }) {
    const upstreams = { orders: config.ORDER_SERVICE_URL, payments: config.PAYMENT_SERVICE_URL, audit: config.AUDIT_SERVICE_URL };
    // Ready when at least one replica of each service is alive: the proxy fails over to it.
    for (const [name, targets] of Object.entries(upstreams)) {
      readiness[name] = () => anyAlive(targets);
    }
    return { app: createGatewayApp(config, { logger, metrics, readiness }) };
  },
});
