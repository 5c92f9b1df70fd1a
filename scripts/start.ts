/**
 * `npm start`: the whole stack on this machine with embedded defaults — real RabbitMQ (local, or
 * AMQP_URL), a MongoDB-compatible server (FerretDB built once and started here, or MONGO_URL), the five
 * services as processes on their design ports, fresh dev secrets and provider keys. Ctrl-C stops all.
 * STACK_REPLICAS=2 (1..4) runs each internal service and the callback gateway that many times: extra
 * replicas on their port + 100, + 200, ...; the api-gateway balances over them and a small proxy on
 * CALLBACK_PORT over the callback-gateway replicas.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { signToken } from '@pay/auth';
import { ApiError, createClient } from '@pay/client';
import { buildServices, provideInfrastructure, REPO_ROOT, SERVICE_NAMES, startStack, generateDevSecrets, readDevSession, writeDevSession, type Infrastructure, type Stack } from '@pay/harness';

async function main(): Promise<void> {
  const logDir = path.join(REPO_ROOT, '.cache', 'logs');
  mkdirSync(logDir, { recursive: true });
  const say = (line: string) => console.log(`[start] ${line}`);
  let infrastructure: Infrastructure | null = null;
  let stack: Stack | null = null;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping services...');
    await stack?.stop();
    await infrastructure?.stop();
    say('stopped; nothing left running.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    // The services run compiled (dist/services/<name>/main.js): build all five once, up front (PAY_RUN_TS=1: tsx).
    if (process.env.PAY_RUN_TS !== '1') {
      const built = Date.now();
      await buildServices(SERVICE_NAMES);
      say(`built the services into dist/services in ${Date.now() - built} ms`);
    }
    infrastructure = await provideInfrastructure({ ferretDatabase: 'payments_dev', dropOnStop: false, log: say, ferretLogFile: path.join(logDir, 'ferretdb.log') });
    say(`database: ${infrastructure.database}; broker: ${infrastructure.broker}`);
    const secrets = generateDevSecrets();
    const env: NodeJS.ProcessEnv = {
      ...secrets.env,
      PAYMENT_SANDBOX: 'true',
      ...process.env, // anything set explicitly wins over the generated defaults
      MONGO_URL: infrastructure.mongoUrl,
      AMQP_URL: infrastructure.amqpUrl,
      BROKER_PREFIX: process.env.BROKER_PREFIX ?? 'payments-dev',
    };
    // Replicas come from STACK_REPLICAS (in env); several are refused on a database without a write guard.
    // The provider simulator stands in for WeChat Pay, Alipay and the mock provider; its keys pair with the
    // services' (an explicitly set variable wins on either side).
    const simulator: NodeJS.ProcessEnv = { ...secrets.simulatorEnv, ...process.env };
    stack = await startStack({ env, fixedPorts: true, logDir, multiProcessSafe: infrastructure.multiProcessSafe, simulator });
    const jwtSecret = env.JWT_SECRET ?? secrets.session.jwtSecret;
    writeDevSession({
      gatewayUrl: stack.gatewayUrl,
      callbackUrl: stack.callbackUrl,
      jwtSecret,
      jwtAudience: env.JWT_AUDIENCE,
      jwtIssuer: env.JWT_ISSUER,
      mockProviderSecret: env.MOCK_PROVIDER_SECRET ?? secrets.session.mockProviderSecret,
      wechatpay: secrets.session.wechatpay,
      alipay: secrets.session.alipay,
      providerSimUrl: stack.providerSimUrl ?? undefined,
    });
    const customer = signToken({ sub: 'dev-customer', role: 'customer' }, jwtSecret, '12h', { audience: env.JWT_AUDIENCE, issuer: env.JWT_ISSUER });
    const seeder = signToken({ sub: 'dev-seed', role: 'admin' }, jwtSecret, '5m', { audience: env.JWT_AUDIENCE, issuer: env.JWT_ISSUER });
    const added = await seedDemoProducts(`${stack.gatewayUrl}/api/v1`, seeder);
    say(`demo products ${DEMO_PRODUCTS.map((product) => product.id).join(', ')} in the catalog${added.length ? ` (added ${added.join(', ')})` : ''}`);
    const demo = await startDemoPayment(`${stack.gatewayUrl}/api/v1`, customer).catch((error: Error) => `(could not start a demo payment: ${error.message})`);
    const running = stack;
    const replicaLines = SERVICE_NAMES.map(
      (name) => `  ${name.padEnd(17)}${running.replicas[name].map((replica) => replica.url).join('  ')}${name === 'callback-gateway' && running.callbackBalancer ? `  (behind ${running.callbackUrl})` : ''}`,
    ).join('\n');
    const metricsLines = SERVICE_NAMES.map((name) => `  ${name.padEnd(17)}${running.replicas[name].map((replica) => `${replica.metricsUrl}/metrics`).join('  ')}`).join('\n');
    console.log(`
Payments stack is running (logs: ${logDir}).
  API gateway      ${stack.gatewayUrl}/api/v1      (health: ${stack.gatewayUrl}/healthz)
  Callback gateway ${stack.callbackUrl}/callbacks/{mock|wechatpay|alipay}
  Provider sim     ${stack.providerSimUrl}      (WeChat Pay v3, Alipay and mock provider stand-in; cashier pages)

Pay in the browser: a demo order of 99.00 was placed and its payment started (WeChat Pay, native QR).
Open its cashier page and click Pay; the order becomes paid through the signed notification:
  ${demo}

Replicas: ${stack.replicaCount} per internal service and callback gateway (STACK_REPLICAS; the api-gateway runs once).
${replicaLines}

Internal (not for clients; in compose and k8s never published): Prometheus /metrics, and /readyz with each dependency's state
${metricsLines}

Customer dev token (sub dev-customer, 12 h):
  ${customer}

Try it:
  export TOKEN=${customer.slice(0, 12)}...   # the full token above
  curl -s -X POST ${stack.gatewayUrl}/api/v1/orders -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
       -d '{"items":[{"product_id":"p1","quantity":1}]}'   # name and price from the catalog: curl ${stack.gatewayUrl}/api/v1/products
  curl -s -X POST ${stack.gatewayUrl}/api/v1/payments -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"order_id":"<order id>"}'
  curl -s -X POST ${stack.gatewayUrl}/api/v1/payments/<payment id>/start -H "Authorization: Bearer $TOKEN"   # pay_params; cashier: ${stack.providerSimUrl}/cashier/wechatpay/<payment id>
  npm run simulate -- mock --payment <payment id> --status SUCCESS      # or wechatpay / alipay, add --tamper to forge
  npm run token -- --sub ops --role admin                              # other roles: auditor, customer

Ctrl-C stops everything.`);
    await Promise.race(Object.values(stack.replicas).flat().map((service) => service.exited.then((code) => ({ service, code }))))
      .then(({ service, code }) => {
        if (!stopping) {
          say(`${service.name} (replica ${service.replica + 1}) exited (code ${code}); see ${service.logFile ?? logDir}`);
          void stop(1);
        }
      });
  } catch (error) {
    console.error(`[start] failed: ${(error as Error).message}`);
    await stop(1);
  }
}

/** The catalog `npm start` makes sure of, so the README's curl examples work (ids p1, p2, p3). */
const DEMO_PRODUCTS = [
  { id: 'p1', name: 'Tea', unit_price: '99.00' },
  { id: 'p2', name: 'Teapot', unit_price: '168.00' },
  { id: 'p3', name: 'Tea cup', unit_price: '25.50' },
];

/**
 * Adds the demo products missing from the catalog, as an admin through the API: on a restart (the dev
 * database is kept) they exist already (409) and are left as they are, with any change an admin made.
 */
async function seedDemoProducts(apiBase: string, adminToken: string): Promise<string[]> {
  const api = createClient({ baseUrl: apiBase, token: adminToken });
  const added: string[] = [];
  for (const product of DEMO_PRODUCTS) {
    try {
      await api.createProduct(product);
      added.push(product.id);
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 'duplicate_product')) throw error;
    }
  }
  return added;
}

/** Places an order, creates and starts its payment at WeChat Pay (the simulator): its cashier page URL. */
async function startDemoPayment(apiBase: string, token: string): Promise<string> {
  const api = createClient({ baseUrl: apiBase, token });
  const order = await api.createOrder({ items: [{ product_id: 'p1', quantity: 1 }] });
  // The payment service learns of the order through order.created: a moment after the order exists.
  for (let attempt = 0; ; attempt++) {
    try {
      const payment = await api.createPayment({ order_id: order.id, method: 'wechat' });
      const started = await api.startPayment(payment.id, { channel: 'native' });
      const simUrl = readDevSession()?.providerSimUrl;
      return `${simUrl}/cashier/wechatpay/${started.id}   (order ${order.order_number}, payment ${started.id})`;
    } catch (error) {
      if (attempt >= 10) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

void main();
