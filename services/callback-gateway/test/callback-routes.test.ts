import { randomBytes } from 'node:crypto';
import type { EventEnvelope } from '@pay/contracts';
import { createHttpApp, finishApp } from '@pay/http';
import { createLogger } from '@pay/logger';
import { createMetrics } from '@pay/metrics';
import { createMockProvider, signMockCallback } from '@pay/providers';
import { callbackRoutes } from '../src/entry-points/http/routes';
import { serveInProcess, type InProcessServer } from '../../../test/support/in-process';

const logger = createLogger('callback-routes-test', 'error');
logger.silent = true;
const secret = randomBytes(24).toString('hex');

describe('POST /callbacks/:provider (in process)', () => {
  let server: InProcessServer;
  let base: string;
  const published: EventEnvelope[] = [];

  beforeAll(async () => {
    const app = createHttpApp({ service: 'callback-gateway', logger, metrics: createMetrics('cb'), readiness: {}, parseJson: false });
    const seen = new Set<string>();
    app.use(
      callbackRoutes(
        { mock: createMockProvider({ secret }) },
        {
          log: {
            recordOnce: async (n) => (seen.has(n.notificationId) ? { key: n.notificationId, eventId: 'x', handedOff: true } : (seen.add(n.notificationId), null)),
            markHandedOff: async () => undefined,
          },
          payments: { get: async (id) => ({ id, amountMinor: 9900, currency: 'CNY' }), recordCreated: async () => undefined },
          paymentWaitMs: 0,
          publish: async (event) => void published.push(event),
          logger,
        },
        { refusalsPerMinutePerIp: 3 },
      ),
    );
    finishApp(app, logger);
    server = await serveInProcess(app);
    base = server.url;
  });

  afterAll(async () => {
    await server.close();
  });

  const send = (notificationId: string, tamper = false) => {
    const request = signMockCallback({ notification_id: notificationId, payment_id: 'pay-1', transaction_id: 't', status: 'SUCCESS', amount: '99.00' }, secret);
    return fetch(`${base}/callbacks/mock`, { method: 'POST', headers: request.headers, body: tamper ? request.rawBody.replace('99.00', '1.00') : request.rawBody });
  };

  it('limits refused callbacks per address; accepted ones never count, and nothing is published over the limit', async () => {
    for (let i = 0; i < 5; i++) expect((await send(`genuine-${i}`)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await send(`forged-${i}`, true)).status).toBe(401);
    const reported = published.filter((event) => event.type === 'callback.rejected').length;
    expect(reported).toBe(3);

    const limited = await send('forged-x', true);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBeTruthy();
    expect(published.filter((event) => event.type === 'callback.rejected')).toHaveLength(reported);
    // The address is limited as a whole until the window passes; a provider retries a 429 later.
    expect((await send('genuine-late')).status).toBe(429);
    expect(published.filter((event) => event.type === 'callback.verified')).toHaveLength(5);
  });
});
