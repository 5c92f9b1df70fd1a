import { randomBytes } from 'node:crypto';
import { loadConfig } from '@pay/config';
import type { EventEnvelope } from '@pay/contracts';
import { createHttpApp, finishApp } from '@pay/http';
import { createLogger } from '@pay/logger';
import { createMetrics } from '@pay/metrics';
import { createMockProvider, createProviders, signMockCallback, type ProviderAdapter, type ProviderName } from '@pay/providers';
import { callbackConfigSchema, providerSettings } from '../src/config';
import { callbackRoutes } from '../src/entry-points/http/routes';
import { serveInProcess, type InProcessServer } from '../../../test/support/in-process';

const logger = createLogger('callback-routes-test', 'error');
logger.silent = true;
const secret = randomBytes(24).toString('hex');

interface Gateway {
  base: string;
  published: EventEnvelope[];
  /** Reads of the payment view and of the notification log: a refused route must touch neither. */
  lookups: string[];
  server: InProcessServer;
}

/** The routes with in-memory ports; every payment is a 99.00 bank_card payment (paid at mock). */
async function startGateway(providers: Partial<Record<ProviderName, ProviderAdapter>>, refusalsPerMinutePerIp: number): Promise<Gateway> {
  const published: EventEnvelope[] = [];
  const lookups: string[] = [];
  const app = createHttpApp({ service: 'callback-gateway', logger, metrics: createMetrics('cb'), readiness: {}, parseJson: false });
  const seen = new Set<string>();
  app.use(
    callbackRoutes(
      providers,
      {
        log: {
          find: async (key) => {
            lookups.push(`log:${key}`);
            return seen.has(key) ? { key, eventId: 'x', handedOff: true } : null;
          },
          recordHandedOff: async (n) => {
            seen.add(`${n.provider}:${n.notificationId}`);
          },
        },
        payments: {
          get: async (id) => (lookups.push(`payment:${id}`), { id, amountMinor: 9900, currency: 'CNY', method: 'bank_card' }),
          recordCreated: async () => undefined,
        },
        paymentWaitMs: 0,
        publish: async (event) => void published.push(event),
        logger,
      },
      { refusalsPerMinutePerIp },
    ),
  );
  finishApp(app, logger);
  const server = await serveInProcess(app);
  return { base: server.url, published, lookups, server };
}

const sendMock = (base: string, notificationId: string, tamper = false) => {
  const request = signMockCallback({ notification_id: notificationId, payment_id: 'pay-1', transaction_id: 't', status: 'SUCCESS', amount: '99.00' }, secret);
  return fetch(`${base}/callbacks/mock`, { method: 'POST', headers: request.headers, body: tamper ? request.rawBody.replace('99.00', '1.00') : request.rawBody });
};

describe('POST /callbacks/:provider (in process)', () => {
  let gateway: Gateway;

  beforeAll(async () => {
    gateway = await startGateway({ mock: createMockProvider({ secret }) }, 3);
  });

  afterAll(async () => {
    await gateway.server.close();
  });

  it('limits refused callbacks per address; accepted ones never count, and nothing is published over the limit', async () => {
    const { base, published } = gateway;
    for (let i = 0; i < 5; i++) expect((await sendMock(base, `genuine-${i}`)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await sendMock(base, `forged-${i}`, true)).status).toBe(401);
    const reported = published.filter((event) => event.type === 'callback.rejected').length;
    expect(reported).toBe(3);

    const limited = await sendMock(base, 'forged-x', true);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBeTruthy();
    expect(await limited.json()).toEqual({ code: 'FAIL', message: 'too many refused callbacks' });
    expect(published.filter((event) => event.type === 'callback.rejected')).toHaveLength(reported);
    expect(published.filter((event) => event.type === 'callback.verified')).toHaveLength(5);
  });

  it('never refuses a correctly signed notification from an address over the limit (an ingress shares one address)', async () => {
    const shared = await startGateway({ mock: createMockProvider({ secret }) }, 2);
    try {
      const { base, published } = shared;
      for (let i = 0; i < 2; i++) expect((await sendMock(base, `flood-${i}`, true)).status).toBe(401);
      expect((await sendMock(base, 'flood-over', true)).status).toBe(429);

      const genuine = await sendMock(base, 'genuine-behind-ingress');
      expect(genuine.status).toBe(200);
      expect(await genuine.json()).toEqual({ code: 'SUCCESS' });
      expect(published.filter((event) => event.type === 'callback.verified').map((event) => (event.data as { notificationId: string }).notificationId)).toEqual([
        'genuine-behind-ingress',
      ]);
      // A replay of it is verified too, so it is answered (success, no second effect), not limited.
      expect((await sendMock(base, 'genuine-behind-ingress')).status).toBe(200);
      expect((await sendMock(base, 'flood-after', true)).status).toBe(429);
      expect(published.filter((event) => event.type === 'callback.rejected')).toHaveLength(2);
    } finally {
      await shared.server.close();
    }
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])(
    'answers POST /callbacks/%s as an unknown provider (404), never an Object.prototype member',
    async (name) => {
      const { base, published, lookups } = gateway;
      const before = { published: published.length, lookups: lookups.length };
      const answer = await fetch(`${base}/callbacks/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(answer.status).toBe(404);
      expect(await answer.json()).toEqual({ error: { code: 'not_found', message: `unknown provider ${name}`, request_id: expect.any(String) } });
      expect({ published: published.length, lookups: lookups.length }).toEqual(before);
    },
  );
});

describe('POST /callbacks/mock without MOCK_PROVIDER_SECRET (in process)', () => {
  const env = { INTERNAL_TOKEN_SECRET: randomBytes(32).toString('hex') };
  const gateways: Gateway[] = [];
  const start = async (extra: NodeJS.ProcessEnv) => {
    const gateway = await startGateway(createProviders(providerSettings(loadConfig(callbackConfigSchema, { ...env, ...extra }))), 100);
    gateways.push(gateway);
    return gateway;
  };

  afterAll(async () => {
    for (const gateway of gateways) await gateway.server.close();
  });

  it('refuses a correctly signed mock callback as an unknown provider (404, like an unconfigured wechatpay), touching and publishing nothing', async () => {
    const { base, published, lookups } = await start({});
    const answer = await sendMock(base, 'ntf-no-mock');
    expect(answer.status).toBe(404);
    expect(await answer.json()).toEqual({ error: { code: 'not_found', message: 'unknown provider mock', request_id: expect.any(String) } });

    const wechatpay = await fetch(`${base}/callbacks/wechatpay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(wechatpay.status).toBe(404);
    expect(await wechatpay.json()).toEqual({ error: { code: 'not_found', message: 'unknown provider wechatpay', request_id: expect.any(String) } });

    expect(published).toEqual([]);
    expect(lookups).toEqual([]);
  });

  it('accepts the same callback once MOCK_PROVIDER_SECRET is set', async () => {
    const { base, published } = await start({ MOCK_PROVIDER_SECRET: secret });
    expect((await sendMock(base, 'ntf-with-mock')).status).toBe(200);
    expect(published.map((event) => event.type)).toEqual(['callback.verified']);
  });
});
