import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { signToken } from '@pay/auth';
import { ApiError, createClient, type ApiClient, type CreatePaymentParams } from '@pay/client';
import type { PaymentView, Role } from '@pay/contracts';
import { generateDevKeys } from '@pay/providers';
import { generateDevSecrets, generateMerchantKeys, replicaCount, type MerchantKeys, sendProviderCallback, startStack, type SimulatedCallback, type Stack } from '@pay/harness';
import { deleteBrokerTopology } from './broker-cleanup';
import { isolatedPrefix, testAmqpUrl, testMongoUrl } from './isolation';

export interface TestStack {
  stack: Stack;
  prefix: string;
  env: NodeJS.ProcessEnv;
  token(sub: string, role?: Role): string;
  client(sub: string, role?: Role): ApiClient;
  callback(input: SimulatedCallback): Promise<{ status: number; body: string }>;
  /** The keys the stack runs with (merchant side in `env`, provider side in `simulatorEnv`). */
  secrets: ReturnType<typeof generateDevSecrets>;
  /** The provider simulator the stack's payment-service pays at. */
  simulatorUrl: string;
  /** A call to the simulator's control API (`/sim/...`), answered as JSON. */
  sim(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  /**
   * The id of a catalog product priced `unitPrice` (e.g. '49.50', CNY): orders take their prices from the
   * catalog, so a test that needs an amount orders this product. Created once per price by an admin, then cached.
   */
  productAt(unitPrice: string): Promise<string>;
  stop(): Promise<void>;
}

export interface TestStackOptions {
  /**
   * Processes per internal service and callback gateway (1..4). Default: STACK_REPLICAS from the
   * environment (`npm run test:replicas` sets 2), else 1.
   */
  replicas?: number;
}

/**
 * The five services as real processes against the run's FerretDB/MongoDB and RabbitMQ, isolated by
 * their own database prefix and broker prefix, with fresh secrets and provider keys.
 */
export async function startTestStack(label: string, extraEnv: NodeJS.ProcessEnv = {}, options: TestStackOptions = {}): Promise<TestStack> {
  const prefix = isolatedPrefix(label);
  const secrets = generateDevSecrets(sharedKeys().provider, sharedKeys().merchant);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...secrets.env,
    // A fresh audit database each time, so a fresh chain key (npm start keeps its chain unkeyed unless set).
    AUDIT_CHAIN_KEY: randomBytes(32).toString('base64url'),
    MONGO_URL: testMongoUrl(),
    AMQP_URL: testAmqpUrl(),
    BROKER_PREFIX: prefix,
    DB_PREFIX: prefix,
    LOG_LEVEL: 'info',
    EXPIRY_SWEEP_INTERVAL_MS: '500',
    ORDER_WAIT_MS: '5000',
    // A payment started in a test is asked at its provider soon when no notification came.
    PAYMENT_QUERY_AFTER_S: '2',
    PROVIDER_QUERY_INTERVAL_MS: '500',
    ...extraEnv,
  };
  const stack = await startStack({
    env,
    logDir: path.join(process.env.TEST_LOG_DIR ?? '/tmp', prefix),
    replicas: options.replicas ?? replicaCount(process.env.STACK_REPLICAS),
    // Set by the global setup: '0' on FerretDB's SQLite fallback, where several replicas are refused.
    multiProcessSafe: process.env.TEST_MULTI_PROCESS_SAFE === undefined ? undefined : process.env.TEST_MULTI_PROCESS_SAFE === '1',
    // The providers' retry schedules at 1/100: WeChat's 15 s first retry comes after 150 ms.
    simulator: { ...secrets.simulatorEnv, PROVIDER_SIM_TIME_SCALE: extraEnv.PROVIDER_SIM_TIME_SCALE ?? '0.01' },
  });
  const simulatorUrl = stack.providerSimUrl!;
  // The audience and issuer the stack's gateway checks (an extraEnv may change them).
  const claims = { audience: env.JWT_AUDIENCE, issuer: env.JWT_ISSUER };
  const token = (sub: string, role: Role = 'customer') => signToken({ sub, role }, secrets.session.jwtSecret, '1h', claims);
  const catalogAdmin = createClient({ baseUrl: `${stack.gatewayUrl}/api/v1`, token: token('catalog-admin', 'admin') });
  const productsByPrice = new Map<string, Promise<string>>();
  return {
    stack,
    prefix,
    env: stack.env,
    token,
    client: (sub, role = 'customer') => createClient({ baseUrl: `${stack.gatewayUrl}/api/v1`, token: token(sub, role) }),
    callback: (input) => sendProviderCallback(stack.callbackUrl, input, secrets.session),
    secrets,
    simulatorUrl,
    async sim(method, path, body) {
      const response = await fetch(`${simulatorUrl}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
    },
    productAt(unitPrice) {
      let product = productsByPrice.get(unitPrice);
      if (!product) {
        product = catalogAdmin.createProduct({ name: `Item at ${unitPrice}`, unit_price: unitPrice }).then((created) => created.id);
        // A failed create is not cached: the next call tries again.
        product.catch(() => productsByPrice.delete(unitPrice));
        productsByPrice.set(unitPrice, product);
      }
      return product;
    },
    async stop() {
      await stack.stop();
      await deleteBrokerTopology(testAmqpUrl(), prefix).catch(() => undefined);
    },
  };
}

// RSA key generation costs ~100 ms a pair; one set per test file is enough.
let keys: { provider: ReturnType<typeof generateDevKeys>; merchant: MerchantKeys } | undefined;
function sharedKeys() {
  keys ??= { provider: generateDevKeys(), merchant: generateMerchantKeys() };
  return keys;
}

/**
 * Polls until `check` returns a value (not undefined/false) or the time runs out. A thrown error counts as
 * "not yet" (a 404 until an event arrives, a refused connection), except a server error: an API answer
 * with a 5xx status fails the wait at once with its status and body. A 5xx is an outage or a bug the test
 * must see, not a state to wait out until a timeout that names neither. A wait for a documented
 * retry-later answer handles exactly that answer itself (createPaymentOnceOrderKnown).
 */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      if (error instanceof ApiError && error.status >= 500) {
        throw new Error(`server error while waiting for ${what}: ${error.status} ${JSON.stringify(error.body)}`, { cause: error });
      }
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/**
 * POST /payments for an order just created: retried only while the payment service answers 503
 * `order_not_yet_known` (its view of orders lags behind `order.created`; the design's answer, with
 * Retry-After, for a client to retry). Any other error, or that one past `timeoutMs`, is thrown as is.
 */
export async function createPaymentOnceOrderKnown(client: ApiClient, params: CreatePaymentParams, timeoutMs = 20_000): Promise<PaymentView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await client.createPayment(params);
    } catch (error) {
      const orderNotYetKnown = error instanceof ApiError && error.status === 503 && error.code === 'order_not_yet_known';
      if (!orderNotYetKnown || Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
