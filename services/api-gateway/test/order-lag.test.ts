import express from 'express';
import { INTERNAL_IDENTITY_HEADER } from '@pay/contracts';
import { signToken, verifyInternalIdentity } from '@pay/auth';
import { serveInProcess } from '../../../test/support/in-process';
import { INTERNAL_SECRET, JWT_SECRET, startGateway, type InProcessGateway } from './gateway-fixture';

/**
 * The payment-service learns of orders from events, so its "order not found" may only mean "not yet"
 * (the order.created event still in the order-service's outbox during a broker restart, or queued).
 * The gateway asks the order-service before relaying that 404 to `POST /payments`.
 */
let payments: { url: string; close(): Promise<void> };
let orders: { url: string; close(): Promise<void>; asked: string[] };
let gateway: InProcessGateway;

beforeAll(async () => {
  const paymentApp = express();
  paymentApp.use((req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: 'order not found' } });
  });
  payments = await serveInProcess(paymentApp);
  const asked: string[] = [];
  const orderApp = express();
  orderApp.get('/api/v1/orders/:id', (req, res) => {
    asked.push(req.params.id);
    const identity = verifyInternalIdentity(String(req.headers[INTERNAL_IDENTITY_HEADER]), INTERNAL_SECRET, { audience: 'order-service', method: 'GET', path: req.originalUrl });
    if (req.params.id === 'o-down') return void res.status(500).json({ error: { code: 'internal', message: 'down' } });
    // Only the caller's own order exists for them.
    if (req.params.id === 'o-known' && identity.sub === 'alice') return void res.json({ id: 'o-known' });
    res.status(404).json({ error: { code: 'not_found', message: 'order not found' } });
  });
  const served = await serveInProcess(orderApp);
  orders = { ...served, asked };
  gateway = await startGateway(payments.url, { JWT_SECRET, ORDER_SERVICE_URL: orders.url });
});

afterAll(async () => {
  await gateway?.close();
  await payments?.close();
  await orders?.close();
});

beforeEach(() => {
  orders.asked.length = 0;
});

async function createPayment(sub: string, body: unknown) {
  const response = await fetch(`${gateway.url}/api/v1/payments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${signToken({ sub, role: 'customer' }, JWT_SECRET, '5m')}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as { error: { code: string } } };
}

describe('POST /payments for an order the payment-service does not know (yet)', () => {
  it('answers 503 order_not_yet_known with Retry-After when the order exists and is the caller\'s', async () => {
    const answer = await createPayment('alice', { order_id: 'o-known' });
    expect(answer).toMatchObject({ status: 503, retryAfter: '1', body: { error: { code: 'order_not_yet_known' } } });
    expect(orders.asked).toEqual(['o-known']);
  });

  it('keeps the 404 when the order does not exist, or is not the caller\'s', async () => {
    expect(await createPayment('alice', { order_id: 'o-missing' })).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect(await createPayment('mallory', { order_id: 'o-known' })).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
  });

  it('answers 503 when the order-service cannot tell (a retry is safe: nothing was created)', async () => {
    expect(await createPayment('alice', { order_id: 'o-down' })).toMatchObject({ status: 503, retryAfter: '1', body: { error: { code: 'order_not_yet_known' } } });
  });

  it('does not ask for an order id that no lookup can carry', async () => {
    expect(await createPayment('alice', { order_id: '../../metrics' })).toMatchObject({ status: 404 });
    expect(orders.asked).toEqual([]);
  });
});
