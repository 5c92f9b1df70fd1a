import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { INTERNAL_AUDIENCES, signInternalIdentity, signToken, verifyInternalIdentity, type InternalAudience } from '@pay/auth';
import { loadConfig, ConfigError } from '@pay/config';
import { INTERNAL_IDENTITY_HEADER, type Identity } from '@pay/contracts';
import { gatewayConfigSchema } from '../src/config';
import { tokenVerifierFor } from '../src/entry-points/http/authenticate';
import { INTERNAL_SECRET, JWT_SECRET, rawRequest, startGateway, startStubUpstream, type InProcessGateway, type StubUpstream } from './gateway-fixture';

/** The gateway app in-process in front of a stub upstream that records what reached "the services". */
let upstream: StubUpstream;
let gateway: InProcessGateway;

beforeAll(async () => {
  upstream = await startStubUpstream();
  gateway = await startGateway(upstream.url);
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

beforeEach(() => {
  upstream.seen.length = 0;
});

const bearer = (identity: Identity) => ({ authorization: `Bearer ${signToken(identity, JWT_SECRET, '5m')}` });

describe('catalog roles', () => {
  it.each<[string, string, Identity['role'], number]>([
    ['GET', '/api/v1/products', 'customer', 200],
    ['GET', '/api/v1/products', 'auditor', 200],
    ['POST', '/api/v1/products', 'customer', 403],
    ['POST', '/api/v1/products', 'auditor', 403],
    ['PATCH', '/api/v1/products/p1', 'customer', 403],
    ['POST', '/api/v1/products', 'admin', 200],
    ['PATCH', '/api/v1/products/p1', 'admin', 200],
  ])('%s %s as %s answers %i (reads for everyone signed in, writes for admins only)', async (method, path, role, status) => {
    const withBody = method !== 'GET';
    const response = await fetch(`${gateway.url}${path}`, {
      method,
      headers: { ...bearer({ sub: 'someone', role }), ...(withBody ? { 'content-type': 'application/json' } : {}) },
      ...(withBody ? { body: '{"name":"Tea","unit_price":"0.01"}' } : {}),
    });
    expect(response.status).toBe(status);
    expect(upstream.seen).toHaveLength(status === 200 ? 1 : 0);
  });
});

describe('forwarding', () => {
  it('sends the gateway-signed identity of the bearer, never a client-sent x-internal-identity or the bearer token', async () => {
    // Even a token signed with the real internal secret, naming an admin, is replaced.
    const forged = signInternalIdentity({ sub: 'root', role: 'admin' }, INTERNAL_SECRET, { audience: 'order-service', method: 'GET', path: '/api/v1/orders?page=1' });
    const response = await fetch(`${gateway.url}/api/v1/orders?page=1`, {
      headers: { ...bearer({ sub: 'alice', role: 'customer' }), [INTERNAL_IDENTITY_HEADER]: forged, 'x-request-id': 'client-req-0001' },
    });
    expect(response.status).toBe(200);
    expect(upstream.seen).toHaveLength(1);
    const seen = upstream.seen[0]!;
    expect(seen.url).toBe('/api/v1/orders?page=1');
    expect(seen.headers[INTERNAL_IDENTITY_HEADER]).not.toBe(forged);
    const binding = { audience: 'order-service', method: 'GET', path: '/api/v1/orders?page=1' } as const;
    expect(verifyInternalIdentity(String(seen.headers[INTERNAL_IDENTITY_HEADER]), INTERNAL_SECRET, binding)).toEqual({ sub: 'alice', role: 'customer' });
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-request-id']).toBe('client-req-0001');
    expect(response.headers.get('x-request-id')).toBe('client-req-0001');
  });

  it.each<[string, string, InternalAudience]>([
    ['GET', '/api/v1/orders?page=2&page_size=5', 'order-service'],
    ['POST', '/api/v1/orders/o-1/cancel', 'order-service'],
    ['GET', '/api/v1/payments/p-1', 'payment-service'],
    ['POST', '/api/v1/payments/p-1/start', 'payment-service'],
    ['GET', '/api/v1/refunds/r-1', 'payment-service'],
    ['GET', '/api/v1/audit/events?order_id=o-1', 'audit-service'],
    ['GET', '/api/v1/products?page=1', 'order-service'],
    ['PATCH', '/api/v1/products/p1', 'order-service'],
  ])('signs %s %s for %s only, bound to that method and path, for 30 s', async (method, path, audience) => {
    const withBody = method !== 'GET';
    const response = await fetch(`${gateway.url}${path}`, {
      method,
      headers: { ...bearer({ sub: 'ada', role: 'admin' }), ...(withBody ? { 'content-type': 'application/json' } : {}) },
      ...(withBody ? { body: '{}' } : {}),
    });
    expect(response.status).toBe(200);
    const seen = upstream.seen[0]!;
    expect([seen.method, seen.url]).toEqual([method, path]);
    const token = String(seen.headers[INTERNAL_IDENTITY_HEADER]);
    expect(verifyInternalIdentity(token, INTERNAL_SECRET, { audience, method, path })).toEqual({ sub: 'ada', role: 'admin' });
    const claims = jwt.decode(token) as jwt.JwtPayload;
    expect(claims).toMatchObject({ aud: audience, method, path, iss: 'api-gateway' });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(30);
    const others = INTERNAL_AUDIENCES.filter((other) => other !== audience);
    for (const other of others) expect(() => verifyInternalIdentity(token, INTERNAL_SECRET, { audience: other, method, path })).toThrow(/internal identity/);
    expect(() => verifyInternalIdentity(token, INTERNAL_SECRET, { audience, method: method === 'GET' ? 'POST' : 'GET', path })).toThrow(/another request/);
    expect(() => verifyInternalIdentity(token, INTERNAL_SECRET, { audience, method, path: `${path}/x` })).toThrow(/another request/);
  });

  it('signs a fresh token per request', async () => {
    await fetch(`${gateway.url}/api/v1/orders`, { headers: bearer({ sub: 'alice', role: 'customer' }) });
    await fetch(`${gateway.url}/api/v1/orders?page=2`, { headers: bearer({ sub: 'alice', role: 'customer' }) });
    const [first, second] = upstream.seen.map((seen) => String(seen.headers[INTERNAL_IDENTITY_HEADER]));
    expect(first).not.toBe(second);
    expect(verifyInternalIdentity(second!, INTERNAL_SECRET, { audience: 'order-service', method: 'GET', path: '/api/v1/orders?page=2' })).toEqual({ sub: 'alice', role: 'customer' });
  });

  it.each([
    ['/api/v1/orders/../../../metrics'],
    ['/api/v1/orders/%2e%2e/%2E%2E/%2e%2e/readyz'],
    ['/api/v1/orders/..\\..\\..\\metrics'],
    ['/api/v1/orders/x/../../payments'],
    ['/api/v1/payments/../audit/events'],
  ])('refuses %s (dot segments leaving the route family) with 400 and forwards nothing', async (path) => {
    const response = await rawRequest(gateway.url, path, bearer({ sub: 'mallory', role: 'customer' }));
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'bad_request' } });
    expect(upstream.seen).toEqual([]);
  });

  it('forwards an absolute-form request target to the owning service only, by its path', async () => {
    const response = await rawRequest(gateway.url, 'http://evil.example/api/v1/orders?page=2', bearer({ sub: 'alice', role: 'customer' }));
    expect(response.status).toBe(200);
    expect(upstream.seen.map((seen) => seen.url)).toEqual(['/api/v1/orders?page=2']);
  });
});

describe('authentication errors', () => {
  it('answers 401 in the error format with WWW-Authenticate, forwarding nothing', async () => {
    const missing = await fetch(`${gateway.url}/api/v1/payments`);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(await missing.json()).toMatchObject({ error: { code: 'unauthorized', request_id: expect.any(String) } });

    const bad = await fetch(`${gateway.url}/api/v1/payments`, { headers: { authorization: 'Bearer not.a.token' } });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(upstream.seen).toEqual([]);
  });
});

describe('public token claims', () => {
  const orders = (token: string, url = gateway.url) => fetch(`${url}/api/v1/orders`, { headers: { authorization: `Bearer ${token}` } });
  const now = () => Math.floor(Date.now() / 1000);

  it('refuses a token without exp with 401, forwarding nothing', async () => {
    const forever = jwt.sign({ sub: 'alice', role: 'customer' }, JWT_SECRET, { algorithm: 'HS256' });
    const answer = await orders(forever);
    expect(answer.status).toBe(401);
    expect(await answer.json()).toMatchObject({ error: { code: 'unauthorized', message: expect.stringMatching(/exp is required/) } });
    expect(upstream.seen).toEqual([]);
  });

  it('refuses a lifetime over JWT_MAX_TTL_S (default 86400 s)', async () => {
    expect((await orders(jwt.sign({ sub: 'alice', role: 'customer', iat: now(), exp: now() + 86_400 }, JWT_SECRET))).status).toBe(200);
    expect((await orders(jwt.sign({ sub: 'alice', role: 'customer', iat: now(), exp: now() + 7 * 86_400 }, JWT_SECRET))).status).toBe(401);
    expect((await orders(jwt.sign({ sub: 'alice', role: 'customer', exp: now() + 2 * 86_400 }, JWT_SECRET, { noTimestamp: true }))).status).toBe(401);

    const strict = await startGateway(upstream.url, { JWT_SECRET, JWT_MAX_TTL_S: '600' });
    try {
      expect((await orders(signToken({ sub: 'alice', role: 'customer' }, JWT_SECRET, '10m'), strict.url)).status).toBe(200);
      expect((await orders(signToken({ sub: 'alice', role: 'customer' }, JWT_SECRET, '11m'), strict.url)).status).toBe(401);
    } finally {
      await strict.close();
    }
  });

  it('checks aud and iss when JWT_AUDIENCE and JWT_ISSUER are set, and only then', async () => {
    const checking = await startGateway(upstream.url, { JWT_SECRET, JWT_AUDIENCE: 'payments-api', JWT_ISSUER: 'https://id.example' });
    try {
      const token = (audience: string | null, issuer: string | null) => signToken({ sub: 'alice', role: 'customer' }, JWT_SECRET, '5m', { audience, issuer });
      expect((await orders(token('payments-api', 'https://id.example'), checking.url)).status).toBe(200);
      expect((await orders(token('other-api', 'https://id.example'), checking.url)).status).toBe(401);
      expect((await orders(token(null, 'https://id.example'), checking.url)).status).toBe(401);
      expect((await orders(token('payments-api', 'https://evil.example'), checking.url)).status).toBe(401);
      expect((await orders(token('payments-api', null), checking.url)).status).toBe(401);
      // The default gateway (neither set) does not check them.
      expect((await orders(token('other-api', 'https://evil.example'))).status).toBe(200);
    } finally {
      await checking.close();
    }
  });

  it('refuses to start with JWT_SECRET equal to INTERNAL_TOKEN_SECRET, naming both', () => {
    const load = () => loadConfig(gatewayConfigSchema, { INTERNAL_TOKEN_SECRET: INTERNAL_SECRET, JWT_SECRET: INTERNAL_SECRET });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/JWT_SECRET: .*INTERNAL_TOKEN_SECRET/);
  });

  it('reads JWT_MAX_TTL_S (default 86400), JWT_AUDIENCE and JWT_ISSUER (unset or empty: not checked)', () => {
    const base = { INTERNAL_TOKEN_SECRET: INTERNAL_SECRET, JWT_SECRET };
    const unset = loadConfig(gatewayConfigSchema, base);
    expect([unset.JWT_MAX_TTL_S, unset.JWT_AUDIENCE, unset.JWT_ISSUER]).toEqual([86_400, undefined, undefined]);
    const empty = loadConfig(gatewayConfigSchema, { ...base, JWT_AUDIENCE: '', JWT_ISSUER: '' });
    expect([empty.JWT_AUDIENCE, empty.JWT_ISSUER]).toEqual([undefined, undefined]);
    expect(loadConfig(gatewayConfigSchema, { ...base, JWT_MAX_TTL_S: '3600', JWT_AUDIENCE: 'a', JWT_ISSUER: 'i' })).toMatchObject({ JWT_MAX_TTL_S: 3600, JWT_AUDIENCE: 'a', JWT_ISSUER: 'i' });
    expect(() => loadConfig(gatewayConfigSchema, { ...base, JWT_MAX_TTL_S: 'forever' })).toThrow(/JWT_MAX_TTL_S/);
  });
});

describe('metrics', () => {
  it('labels request latency by route pattern, so arbitrary URLs cannot grow the series', async () => {
    const marker = `zz${randomUUID().slice(0, 8)}`;
    for (let i = 0; i < 3; i += 1) {
      await fetch(`${gateway.url}/api/v1/orders/${marker}-anon-${i}`);
      await fetch(`${gateway.url}/api/v1/payments/${marker}-user-${i}`, { headers: bearer({ sub: 'alice', role: 'customer' }) });
      await fetch(`${gateway.url}/api/v1/${marker}-nowhere-${i}`);
    }
    const text = await gateway.metrics.registry.getSingleMetricAsString('http_request_duration_seconds');
    expect(text).not.toContain(marker);
    expect(text).toContain('route="/api/v1/payments{/*rest}"');
  });
});

describe('API description', () => {
  it('serves the OpenAPI document without a token', async () => {
    const response = await fetch(`${gateway.url}/api/v1/openapi.json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toBe('3.0.3');
    expect(Object.keys(document.paths)).toContain('/payments/{id}/expire');
  });

  it('serves Swagger UI at /docs under a CSP it can run with, on /docs only', async () => {
    const redirect = await fetch(`${gateway.url}/docs`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/docs/');

    const page = await fetch(`${gateway.url}/docs/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger-ui-bundle.js');
    const policy = directivesOf(page.headers.get('content-security-policy'));
    expect(policy['script-src']).toEqual(["'self'"]);
    expect(policy['style-src']).toEqual(["'self'", "'unsafe-inline'"]);
    expect(policy['img-src']).toEqual(["'self'", 'data:']);
    expect(policy['connect-src']).toEqual(["'self'"]);
    expect(policy['frame-ancestors']).toEqual(["'none'"]);
    expect(policy).not.toHaveProperty('upgrade-insecure-requests');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');

    const init = await fetch(`${gateway.url}/docs/swagger-ui-init.js`);
    expect(await init.text()).toContain('"swaggerUrl": "/api/v1/openapi.json"');
    expect((await fetch(`${gateway.url}/docs/swagger-ui-bundle.js`)).status).toBe(200);
    expect((await fetch(`${gateway.url}/docs/swagger-ui.css`)).status).toBe(200);

    // Everything else keeps helmet's strict default policy.
    const api = directivesOf((await fetch(`${gateway.url}/api/v1/openapi.json`)).headers.get('content-security-policy'));
    expect(api).toHaveProperty('upgrade-insecure-requests');
    expect(api['frame-ancestors']).toEqual(["'self'"]);
  });
});

describe('RS256 mode (JWT_PUBLIC_KEY)', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  // Deployments pass the PEM in one line with literal \n; the config turns them back into newlines.
  const env = { JWT_PUBLIC_KEY: publicPem.replace(/\n/g, '\\n') };
  let rsGateway: InProcessGateway;

  beforeAll(async () => {
    rsGateway = await startGateway(upstream.url, env);
  });
  afterAll(async () => {
    await rsGateway?.close();
  });

  const call = (token: string) => fetch(`${rsGateway.url}/api/v1/orders`, { headers: { authorization: `Bearer ${token}` } });

  it('takes the key from the configuration and pins RS256', () => {
    const config = loadConfig(gatewayConfigSchema, { INTERNAL_TOKEN_SECRET: INTERNAL_SECRET, ...env });
    expect(config.JWT_PUBLIC_KEY).toBe(publicPem);
    const verify = tokenVerifierFor(config);
    expect(verify(jwt.sign({ sub: 'u1', role: 'auditor' }, privateKey, { algorithm: 'RS256', expiresIn: 60 }))).toEqual({ sub: 'u1', role: 'auditor' });
    expect(() => verify(hs256WithKey({ sub: 'u1', role: 'admin' }, publicPem))).toThrow(/invalid token/);
  });

  it('refuses a configuration with both keys or neither', () => {
    expect(() => loadConfig(gatewayConfigSchema, { INTERNAL_TOKEN_SECRET: INTERNAL_SECRET, JWT_SECRET, ...env })).toThrow(ConfigError);
    expect(() => loadConfig(gatewayConfigSchema, { INTERNAL_TOKEN_SECRET: INTERNAL_SECRET })).toThrow(/exactly one of JWT_SECRET/);
  });

  it('accepts an RS256 token and refuses an HS256 token whose HMAC key is the public key (algorithm confusion)', async () => {
    const good = await call(jwt.sign({ role: 'customer' }, privateKey, { algorithm: 'RS256', subject: 'carol', expiresIn: 60 }));
    expect(good.status).toBe(200);
    expect(verifyInternalIdentity(String(upstream.seen[0]?.headers[INTERNAL_IDENTITY_HEADER]), INTERNAL_SECRET, { audience: 'order-service', method: 'GET', path: '/api/v1/orders' })).toEqual({ sub: 'carol', role: 'customer' });

    const confused = await call(hs256WithKey({ sub: 'carol', role: 'admin' }, publicPem));
    expect(confused.status).toBe(401);
    expect(await confused.json()).toMatchObject({ error: { code: 'unauthorized' } });
    // An HS256 token with the HS secret a misconfigured twin might use is just as dead here.
    expect((await call(signToken({ sub: 'carol', role: 'admin' }, JWT_SECRET))).status).toBe(401);
    expect(upstream.seen).toHaveLength(1);
  });
});

/** An HS256 JWT built by hand (jsonwebtoken refuses to HMAC with a PEM key, an attacker does not). */
function hs256WithKey(claims: Identity, key: string): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ ...claims, exp: Math.floor(Date.now() / 1000) + 60 })}`;
  return `${signingInput}.${createHmac('sha256', key).update(signingInput).digest('base64url')}`;
}

function directivesOf(header: string | null): Record<string, string[]> {
  const directives: Record<string, string[]> = {};
  for (const part of (header ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) directives[name] = values;
  }
  return directives;
}
