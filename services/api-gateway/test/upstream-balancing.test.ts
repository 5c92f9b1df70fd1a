import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signToken } from '@pay/auth';
import { ConfigError, loadConfig } from '@pay/config';
import { gatewayConfigSchema } from '../src/config';
import { INTERNAL_SECRET, JWT_SECRET, startGateway, startStubUpstream, type InProcessGateway, type StubUpstream } from './gateway-fixture';

/**
 * The gateway in front of several replicas of a service (ORDER_SERVICE_URL etc. as comma-separated
 * lists), with small in-process HTTP servers as the replicas: round-robin, failover to the next replica
 * only when the request provably never reached the first, and never a second send otherwise.
 */
const auth = { authorization: `Bearer ${signToken({ sub: 'alice', role: 'customer' }, JWT_SECRET, '5m')}` };
const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** A port on which nothing listens (a replica that is down): connections to it are refused. */
async function deadPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** A replica that receives the request (its body too) and then dies without answering. */
async function startDyingUpstream(): Promise<{ url: string; received: { method: string; url: string; body: string }[]; close(): Promise<void> }> {
  const received: { method: string; url: string; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', body });
      res.socket?.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function gatewayOver(orderUrls: string[]): Promise<InProcessGateway> {
  const gateway = await startGateway(orderUrls[0]!, { JWT_SECRET, ORDER_SERVICE_URL: orderUrls.join(',') });
  closers.push(gateway.close);
  return gateway;
}

async function stub(): Promise<StubUpstream> {
  const upstream = await startStubUpstream();
  closers.push(upstream.close);
  return upstream;
}

describe('ORDER_SERVICE_URL, PAYMENT_SERVICE_URL, AUDIT_SERVICE_URL as replica lists', () => {
  const env = { INTERNAL_TOKEN_SECRET: INTERNAL_SECRET, JWT_SECRET };

  it('accepts one URL or a comma-separated list (spaces and trailing slashes trimmed)', () => {
    const config = loadConfig(gatewayConfigSchema, { ...env, PAYMENT_SERVICE_URL: 'http://p1:8083/, http://p2:8083' });
    expect(config.PAYMENT_SERVICE_URL).toEqual(['http://p1:8083', 'http://p2:8083']);
    expect(loadConfig(gatewayConfigSchema, env).ORDER_SERVICE_URL).toEqual(['http://127.0.0.1:8082']);
  });

  it.each([
    ['AUDIT_SERVICE_URL', 'http://a:8084,ftp://b:8084'],
    ['ORDER_SERVICE_URL', 'http://a:8082,'],
    ['PAYMENT_SERVICE_URL', ''],
    ['PAYMENT_SERVICE_URL', Array.from({ length: 17 }, (_, i) => `http://p${i}:8083`).join(',')],
  ])('refuses %s=%j, naming the variable', (variable, value) => {
    let error: unknown;
    try {
      loadConfig(gatewayConfigSchema, { ...env, [variable]: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((issue) => issue.variable)).toEqual([variable]);
  });
});

describe('balancing over replicas', () => {
  it('alternates between two replicas', async () => {
    const [a, b] = [await stub(), await stub()];
    const gateway = await gatewayOver([a.url, b.url]);
    for (let i = 0; i < 6; i += 1) {
      const response = await fetch(`${gateway.url}/api/v1/orders?i=${i}`, { headers: auth });
      expect(response.status).toBe(200);
    }
    expect(a.seen.map((seen) => seen.url)).toEqual(['/api/v1/orders?i=0', '/api/v1/orders?i=2', '/api/v1/orders?i=4']);
    expect(b.seen.map((seen) => seen.url)).toEqual(['/api/v1/orders?i=1', '/api/v1/orders?i=3', '/api/v1/orders?i=5']);
  });

  it('fails over to the next replica when one is down, even for a POST (the request never reached it)', async () => {
    const live = await stub();
    const gateway = await gatewayOver([await deadPort(), live.url]);
    const answers = [];
    for (let i = 0; i < 4; i += 1) answers.push((await post(`${gateway.url}/api/v1/orders`, { n: i })).status);
    answers.push((await fetch(`${gateway.url}/api/v1/orders/x`, { headers: auth })).status);
    expect(answers).toEqual([200, 200, 200, 200, 200]);
    expect(live.seen).toHaveLength(5);
    expect(live.seen.filter((seen) => seen.method === 'POST')).toHaveLength(4);
  });

  it('answers 503 when every replica refuses the connection', async () => {
    const gateway = await gatewayOver([await deadPort(), await deadPort()]);
    const response = await post(`${gateway.url}/api/v1/orders`, {});
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: 'unavailable' } });
  });

  it('does not retry once a replica has received the request: a POST is never sent twice', async () => {
    const dying = await startDyingUpstream();
    closers.push(dying.close);
    const other = await stub();
    const gateway = await gatewayOver([dying.url, other.url]);
    const response = await post(`${gateway.url}/api/v1/orders`, { items: [{ product_id: 'p1', quantity: 1 }] });
    expect(response.status).toBe(503);
    expect(dying.received).toEqual([{ method: 'POST', url: '/api/v1/orders', body: '{"items":[{"product_id":"p1","quantity":1}]}' }]);
    expect(other.seen).toEqual([]);
    // The next request in turn goes to the other replica, which answers.
    expect((await fetch(`${gateway.url}/api/v1/orders`, { headers: auth })).status).toBe(200);
    expect(other.seen).toHaveLength(1);
  });

  it('does not retry a request that timed out at a replica', async () => {
    const slowSeen: string[] = [];
    const slow = createServer((req) => slowSeen.push(req.url ?? '')); // never answers
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    closers.push(() => {
      slow.closeAllConnections();
      return new Promise((resolve) => slow.close(() => resolve()));
    });
    const other = await stub();
    const gateway = await startGateway(other.url, { JWT_SECRET, UPSTREAM_TIMEOUT_MS: '300', ORDER_SERVICE_URL: `http://127.0.0.1:${(slow.address() as AddressInfo).port},${other.url}` });
    closers.push(gateway.close);
    const response = await post(`${gateway.url}/api/v1/orders`, {});
    expect(response.status).toBe(503);
    expect(slowSeen).toEqual(['/api/v1/orders']);
    expect(other.seen).toEqual([]);
  });
});
