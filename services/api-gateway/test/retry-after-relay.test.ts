import express from 'express';
import { signToken } from '@pay/auth';
import { serveInProcess, type InProcessServer } from '../../../test/support/in-process';
import { JWT_SECRET, startGateway, type InProcessGateway } from './gateway-fixture';

/**
 * A service's retryable 503 (e.g. payment-service: "order not known yet") reaches the client unchanged:
 * status, body and `Retry-After`; the service's other headers still stay inside.
 */
describe('relaying a retryable 503', () => {
  let upstream: InProcessServer;
  let gateway: InProcessGateway;
  const body = { error: { code: 'order_not_yet_known', message: 'order o1 is not known to the payment service yet; retry after the seconds in Retry-After' } };

  beforeAll(async () => {
    const app = express();
    app.use((_req, res) => {
      res.setHeader('Retry-After', '2');
      res.setHeader('X-Internal-Detail', 'payment-service-replica-3');
      res.status(503).json(body);
    });
    upstream = await serveInProcess(app);
    gateway = await startGateway(upstream.url);
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  it('passes status, body and Retry-After through, and nothing else of the service’s headers', async () => {
    const response = await fetch(`${gateway.url}/api/v1/payments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${signToken({ sub: 'alice', role: 'customer' }, JWT_SECRET, '5m')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ order_id: 'o1' }),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('2');
    expect(response.headers.get('x-internal-detail')).toBeNull();
    expect(await response.json()).toEqual(body);
  });
});
