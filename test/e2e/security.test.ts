import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { signInternalIdentity, signToken, type InternalAudience, type InternalBinding } from '@pay/auth';
import type { ApiClient } from '@pay/client';
import { INTERNAL_IDENTITY_HEADER, type Identity, type OrderView, type PaymentView, type Role } from '@pay/contracts';
import { freePort, startService } from '@pay/harness';
import { rawGet } from '../support/in-process';
import { eventually, startTestStack, type TestStack } from '../support/stack';

/**
 * The public door under attack: the five services as processes, every request through the real API
 * gateway (raw fetch where a well-behaved client would not send it). The stack runs with a per-user
 * limit of 20 requests a minute, so every test acts as its own users.
 */
const PER_USER_LIMIT = 20;

interface Answer {
  status: number;
  headers: Headers;
  body: { error?: { code: string; message: string; details?: { issues?: { path: string; code: string }[] }; request_id?: string } } & Record<string, unknown>;
}

describe('security of the public API', () => {
  let system: TestStack;
  let api: string;
  let secret: string;
  let internalSecret: string;
  /** The aud and iss the stack's gateway requires (JWT_AUDIENCE, JWT_ISSUER). */
  let audience: string;
  let issuer: string;

  beforeAll(async () => {
    system = await startTestStack('security', { RATE_LIMIT_PER_USER: String(PER_USER_LIMIT) });
    api = `${system.stack.gatewayUrl}/api/v1`;
    secret = system.env.JWT_SECRET!;
    internalSecret = system.env.INTERNAL_TOKEN_SECRET!;
    audience = system.env.JWT_AUDIENCE!;
    issuer = system.env.JWT_ISSUER!;
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  });

  /** A user no other test uses (each has its own rate-limit bucket). */
  const someone = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

  async function call(method: string, url: string, options: { token?: string; authorization?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.authorization !== undefined) headers.authorization = options.authorization;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(url.startsWith('http') ? url : `${api}${url}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    const isJson = (response.headers.get('content-type') ?? '').includes('json');
    return { status: response.status, headers: response.headers, body: isJson && text ? JSON.parse(text) : { text } };
  }

  const tokenOf = (sub: string, role: Role = 'customer') => signToken({ sub, role }, secret, '10m', { audience, issuer });
  /** What the gateway would send `service` for this request. */
  const internalToken = (identity: Identity, binding: InternalBinding, key = internalSecret) => signInternalIdentity(identity, key, binding);
  const order = async (client: ApiClient, unitPrice = '12.50') => client.createOrder({ items: [{ product_id: await system.productAt(unitPrice), quantity: 2 }] });

  function expectErrorFormat(answer: Answer, status: number, code: string): void {
    expect(answer.status).toBe(status);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answer.body.error).toMatchObject({ code, message: expect.any(String), request_id: answer.headers.get('x-request-id') });
  }

  describe('authentication', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const cases: [string, () => string][] = [
      ['alg none (unsigned) token', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'eve', role: 'admin', exp: now() + 300 })}.`],
      ['alg none token from jsonwebtoken', () => jwt.sign({ sub: 'eve', role: 'admin' }, '', { algorithm: 'none' })],
      ['HS256 header with an empty signature', () => `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'eve', role: 'admin', exp: now() + 300 })}.`],
      ['token signed with the wrong key', () => signToken({ sub: 'eve', role: 'admin' }, 'not-the-gateway-secret-0123456789abcdef')],
      ['expired token', () => jwt.sign({ sub: 'eve', role: 'customer', exp: now() - 600, aud: audience, iss: issuer }, secret, { algorithm: 'HS256' })],
      ['token without sub', () => jwt.sign({ role: 'customer', aud: audience, iss: issuer }, secret, { algorithm: 'HS256', expiresIn: 300 })],
      ['token without role', () => jwt.sign({ sub: 'eve', aud: audience, iss: issuer }, secret, { algorithm: 'HS256', expiresIn: 300 })],
      ['token with an unknown role', () => jwt.sign({ sub: 'eve', role: 'root', aud: audience, iss: issuer }, secret, { algorithm: 'HS256', expiresIn: 300 })],
      ['token with a non-string sub', () => jwt.sign({ sub: 42, role: 'admin', aud: audience, iss: issuer } as object, secret, { algorithm: 'HS256', expiresIn: 300 })],
      ['internal identity token used as a bearer token', () => internalToken({ sub: 'eve', role: 'admin' }, { audience: 'order-service', method: 'GET', path: '/api/v1/orders' })],
      ['public-shaped token signed with the internal secret', () => signToken({ sub: 'eve', role: 'admin' }, internalSecret, '5m', { audience, issuer })],
      ['token without exp', () => jwt.sign({ sub: 'eve', role: 'admin', aud: audience, iss: issuer }, secret, { algorithm: 'HS256' })],
      ['token living longer than JWT_MAX_TTL_S (24 h)', () => signToken({ sub: 'eve', role: 'customer' }, secret, '30d', { audience, issuer })],
      ['token for another audience', () => signToken({ sub: 'eve', role: 'customer' }, secret, '5m', { audience: 'some-other-api', issuer })],
      ['token without an audience', () => signToken({ sub: 'eve', role: 'customer' }, secret, '5m', { audience: null, issuer })],
      ['token from another issuer', () => signToken({ sub: 'eve', role: 'customer' }, secret, '5m', { audience, issuer: 'https://evil.example' })],
      ['HS384 token with the right secret (algorithm not pinned one)', () => jwt.sign({ sub: 'eve', role: 'admin', aud: audience, iss: issuer }, secret, { algorithm: 'HS384', expiresIn: 300 })],
      ['re-signed payload (role changed after signing)', () => {
        const [header, , signature] = tokenOf('eve').split('.');
        return `${header}.${b64({ sub: 'eve', role: 'admin', exp: now() + 300, aud: audience, iss: issuer })}.${signature}`;
      }],
    ];

    it.each(cases)('refuses a %s with 401 in the error format', async (_name, make) => {
      const answer = await call('GET', '/orders', { token: make() });
      expectErrorFormat(answer, 401, 'unauthorized');
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
    });

    it('accepts the control: the same claims with exp, the configured aud and iss, and a lifetime within the cap', async () => {
      expect(audience).toBeTruthy();
      expect(issuer).toBeTruthy();
      const sub = someone('ok');
      expect((await call('GET', '/orders', { token: jwt.sign({ sub, role: 'customer', aud: audience, iss: issuer }, secret, { algorithm: 'HS256', expiresIn: 300 }) })).status).toBe(200);
      expect((await call('GET', '/orders', { token: signToken({ sub, role: 'customer' }, secret, '24h', { audience, issuer }) })).status).toBe(200);
    });

    it('the gateway refuses to start when JWT_SECRET equals INTERNAL_TOKEN_SECRET, naming both variables', async () => {
      const logFile = path.join(process.env.TEST_LOG_DIR ?? '/tmp', system.prefix, 'api-gateway-same-secrets.log');
      const start = startService('api-gateway', await freePort(), { env: { ...system.env, JWT_SECRET: internalSecret }, logFile, readyTimeoutMs: 30_000 });
      await expect(start).rejects.toThrow(/exited with code 78/);
      expect(readFileSync(logFile, 'utf8')).toMatch(/JWT_SECRET: [^"]*INTERNAL_TOKEN_SECRET/);
    }, 60_000);

    it.each([
      ['no Authorization header', undefined],
      ['an empty header', ''],
      ['the scheme alone', 'Bearer'],
      ['another scheme', 'Basic ZXZlOnNlY3JldA=='],
      ['two tokens', 'Bearer a.b.c d.e.f'],
      ['a token with illegal characters', 'Bearer abc<def>.ghi'],
    ])('refuses a malformed Authorization header (%s) with 401', async (_name, authorization) => {
      const answer = await call('GET', '/payments', authorization === undefined ? {} : { authorization });
      expectErrorFormat(answer, 401, 'unauthorized');
    });
  });

  describe('roles and ownership', () => {
    it('answers 403 to a customer on audit and to an auditor placing an order', async () => {
      const customer = tokenOf(someone('cust'));
      for (const path of ['/audit/events', '/audit/verify', '/audit/reports/daily']) expectErrorFormat(await call('GET', path, { token: customer }), 403, 'forbidden');

      const auditor = someone('aud');
      const placed = await call('POST', '/orders', { token: tokenOf(auditor, 'auditor'), body: { items: [{ product_id: await system.productAt('1.00'), quantity: 1 }] } });
      expectErrorFormat(placed, 403, 'forbidden');
      const admin = system.client(someone('adm'), 'admin');
      expect((await admin.getOrders({ page_size: 100 })).results.filter((o) => o.user_id === auditor)).toEqual([]);
    });

    it('answers 403 to a customer expiring a payment (admin only) and to an auditor changing one', async () => {
      const owner = someone('owner');
      const client = system.client(owner);
      const placed = await order(client);
      const payment = await client.createPayment({ order_id: placed.id });
      expectErrorFormat(await call('POST', `/payments/${payment.id}/expire`, { token: tokenOf(owner), body: {} }), 403, 'forbidden');
      expectErrorFormat(await call('POST', `/payments/${payment.id}/cancel`, { token: tokenOf(someone('aud'), 'auditor'), body: {} }), 403, 'forbidden');
      expect((await client.getPaymentDetail(payment.id)).status).toBe('init');
    });

    it('hides another customer’s order and payment: reads and changes answer 404 and change nothing', async () => {
      const alice = system.client(someone('alice'));
      const placed = await order(alice);
      const payment = await alice.createPayment({ order_id: placed.id });
      const mallory = tokenOf(someone('mallory'));

      expectErrorFormat(await call('GET', `/orders/${placed.id}`, { token: mallory }), 404, 'not_found');
      expectErrorFormat(await call('GET', `/payments/${payment.id}`, { token: mallory }), 404, 'not_found');
      expectErrorFormat(await call('POST', `/orders/${placed.id}/cancel`, { token: mallory, body: {} }), 404, 'not_found');
      for (const move of ['start', 'cancel']) {
        expectErrorFormat(await call('POST', `/payments/${payment.id}/${move}`, { token: mallory, body: {} }), 404, 'not_found');
      }
      const second = await call('POST', '/payments', { token: mallory, body: { order_id: placed.id } });
      expectErrorFormat(second, 404, 'not_found');
      const listed = await call('GET', `/payments?order_id=${placed.id}`, { token: mallory });
      expect(listed.body).toMatchObject({ count: 0, results: [] });
      expect(((await call('GET', '/orders', { token: mallory })).body.results as OrderView[]).map((o) => o.id)).not.toContain(placed.id);

      expect((await alice.getOrder(placed.id)).status).toBe('pending_payment');
      const untouched = await alice.getPaymentDetail(payment.id);
      expect(untouched.status).toBe('init');
      expect(untouched.logs).toHaveLength(1);
    });

    it('shows a customer who acted on their payment as a kind only and no free-text detail; the admin sees ids and details', async () => {
      const owner = someone('viewed');
      const customer = system.client(owner);
      const adminSub = someone('ops');
      const admin = system.client(adminSub, 'admin');
      const succeeded = await customer.createPayment({ order_id: (await order(customer)).id });
      const expired = await customer.createPayment({ order_id: (await order(customer)).id });
      const answers = { succeeded: await admin.succeedPayment(succeeded.id), expired: await admin.expirePayment(expired.id) };

      const cancelled = await customer.createPayment({ order_id: (await order(customer)).id });
      const customerViews = [
        await customer.cancelPayment(cancelled.id, 'changed my mind'),
        await customer.getPaymentDetail(succeeded.id),
        await customer.getPaymentDetail(expired.id),
        ...(await customer.getPayments({ page_size: 10 })).results,
      ];
      for (const view of customerViews) {
        expect(view.logs.length).toBeGreaterThan(1);
        expect(view.logs.map((entry) => entry.detail)).toEqual(view.logs.map(() => null));
        for (const entry of view.logs) expect(['customer', 'admin', 'system', 'provider']).toContain(entry.actor);
        expect(JSON.stringify(view.logs)).not.toContain(adminSub);
        expect(JSON.stringify(view.logs)).not.toContain(owner);
      }
      expect((await customer.getPaymentDetail(succeeded.id)).logs.map((entry) => entry.actor)).toEqual(['customer', 'admin', 'admin']);
      expect((await customer.getPaymentDetail(expired.id)).logs.map((entry) => entry.actor)).toEqual(['customer', 'admin']);

      // The admin's own answers and reads keep the whole log.
      const fullSucceeded = await admin.getPaymentDetail(succeeded.id);
      expect(fullSucceeded.logs.map((entry) => entry.actor)).toEqual([`customer:${owner}`, `admin:${adminSub}`, `admin:${adminSub}`]);
      expect(fullSucceeded.logs.at(-1)?.detail).toBe(`transaction ${answers.succeeded.transaction_id}`);
      expect(answers.expired.logs.map((entry) => entry.actor)).toEqual([`customer:${owner}`, `admin:${adminSub}`]);
      expect(answers.expired.logs[0]?.detail).toEqual(expect.stringContaining('amount'));
    });
  });

  describe('internal identity', () => {
    it('ignores a client-sent x-internal-identity: the gateway forwards the bearer’s identity only', async () => {
      const victim = system.client(someone('victim'));
      const placed = await order(victim);
      const payment = await victim.createPayment({ order_id: placed.id });
      const mallory = someone('mallory');
      // Not even a token signed with the real internal secret (a leaked one) lets the client choose who it is.
      const forged = { [INTERNAL_IDENTITY_HEADER]: internalToken({ sub: 'root', role: 'admin' }, { audience: 'order-service', method: 'GET', path: '/api/v1/orders?page_size=100' }) };

      const listed = await call('GET', '/orders?page_size=100', { token: tokenOf(mallory), headers: forged });
      expect(listed.status).toBe(200);
      expect(listed.body.count).toBe(0);
      expectErrorFormat(await call('GET', `/orders/${placed.id}`, { token: tokenOf(mallory), headers: forged }), 404, 'not_found');
      expectErrorFormat(await call('POST', `/payments/${payment.id}/expire`, { token: tokenOf(mallory), headers: forged, body: {} }), 403, 'forbidden');
      expectErrorFormat(await call('GET', '/audit/events', { token: tokenOf(mallory), headers: forged }), 403, 'forbidden');
      // Without a bearer token the forged header gets nobody in.
      expectErrorFormat(await call('GET', '/orders', { headers: forged }), 401, 'unauthorized');
      expect((await victim.getPaymentDetail(payment.id)).status).toBe('init');
    });

    /** Each internal service with a read its control identity may make, by the path the service receives. */
    const internalTargets = (): { service: InternalAudience; url: string; path: string }[] => {
      const services = system.stack.services;
      return [
        { service: 'order-service', url: services['order-service'].url, path: '/api/v1/orders' },
        { service: 'payment-service', url: services['payment-service'].url, path: '/api/v1/payments' },
        { service: 'audit-service', url: services['audit-service'].url, path: '/api/v1/audit/events' },
      ];
    };

    it('internal services refuse requests without a valid gateway-signed identity', async () => {
      const now = Math.floor(Date.now() / 1000);
      for (const { service, url, path: target } of internalTargets()) {
        const bound = { aud: service, iss: 'api-gateway', method: 'GET', path: target };
        const binding: InternalBinding = { audience: service, method: 'GET', path: target };
        const forgedIdentities: [string, Record<string, string>][] = [
          ['no identity', {}],
          ['an identity signed with a guessed secret', { [INTERNAL_IDENTITY_HEADER]: internalToken({ sub: 'root', role: 'admin' }, binding, 'guessed-internal-secret-0123456789abcdef') }],
          ['an identity signed with the public JWT secret', { [INTERNAL_IDENTITY_HEADER]: internalToken({ sub: 'root', role: 'admin' }, binding, secret) }],
          ['a public token in the identity header', { [INTERNAL_IDENTITY_HEADER]: tokenOf('root', 'admin') }],
          ['a public token as bearer', { authorization: `Bearer ${tokenOf('root', 'admin')}` }],
          ['an unsigned identity', { [INTERNAL_IDENTITY_HEADER]: jwt.sign({ sub: 'root', role: 'admin', ...bound }, '', { algorithm: 'none' }) }],
          ['an expired identity signed with the real secret', { [INTERNAL_IDENTITY_HEADER]: jwt.sign({ sub: 'root', role: 'admin', ...bound, exp: now - 600 }, internalSecret, { algorithm: 'HS256' }) }],
          ['an identity without exp signed with the real secret', { [INTERNAL_IDENTITY_HEADER]: jwt.sign({ sub: 'root', role: 'admin', ...bound }, internalSecret, { algorithm: 'HS256' }) }],
          ['an identity living an hour signed with the real secret', { [INTERNAL_IDENTITY_HEADER]: jwt.sign({ sub: 'root', role: 'admin', ...bound }, internalSecret, { algorithm: 'HS256', expiresIn: 3600 }) }],
          ['an identity for the old shared audience', { [INTERNAL_IDENTITY_HEADER]: jwt.sign({ sub: 'root', role: 'admin', ...bound, aud: 'payments-internal' }, internalSecret, { algorithm: 'HS256', expiresIn: 30 }) }],
          ['an identity with a forged HMAC', { [INTERNAL_IDENTITY_HEADER]: forgeHs256({ sub: 'root', role: 'admin', ...bound, exp: now + 30 }, 'x') }],
        ];
        for (const [name, headers] of forgedIdentities) {
          const answer = await call('GET', `${url}${target}`, { headers });
          expect([service, name, answer.status]).toEqual([service, name, 401]);
          expect(answer.body.error?.code).toBe('unauthorized');
        }
        // The control: the same request with a real gateway-signed identity is served.
        const real = await call('GET', `${url}${target}`, { headers: { [INTERNAL_IDENTITY_HEADER]: internalToken({ sub: someone('adm'), role: 'admin' }, binding) } });
        expect([service, real.status]).toEqual([service, 200]);
      }
    });

    it('an identity is good only at its own service, for its own method and path', async () => {
      const admin = { sub: someone('adm'), role: 'admin' } as const;
      const targets = internalTargets();
      for (const { service, url, path: target } of targets) {
        const own = internalToken(admin, { audience: service, method: 'GET', path: target });
        expect([service, (await call('GET', `${url}${target}`, { headers: { [INTERNAL_IDENTITY_HEADER]: own } })).status]).toEqual([service, 200]);
        // Minted for this service, presented to the others (on their own paths, or on this very path).
        for (const other of targets.filter((t) => t.service !== service)) {
          const forOther = internalToken(admin, { audience: service, method: 'GET', path: other.path });
          for (const [how, token] of [['its path', forOther], ['the same path', own]] as const) {
            const answer = await call('GET', `${other.url}${other.path}`, { headers: { [INTERNAL_IDENTITY_HEADER]: token } });
            expect([`${service} token at ${other.service} (${how})`, answer.status]).toEqual([`${service} token at ${other.service} (${how})`, 401]);
          }
        }
        // Another path (or query) or another method at the right service.
        for (const [method, other] of [['GET', `${target}?page=2`], ['GET', `${target}/x`], ['POST', target]] as const) {
          const answer = await call(method, `${url}${other}`, { headers: { [INTERNAL_IDENTITY_HEADER]: own }, ...(method === 'POST' ? { body: {} } : {}) });
          expect([service, method, other, answer.status]).toEqual([service, method, other, 401]);
        }
      }
      // An admin's identity for reading a payment does not expire it.
      const client = system.client(someone('owner'));
      const payment = await client.createPayment({ order_id: (await order(client)).id });
      const payments = targets.find((t) => t.service === 'payment-service')!;
      const read = internalToken(admin, { audience: 'payment-service', method: 'GET', path: `/api/v1/payments/${payment.id}` });
      expect((await call('GET', `${payments.url}/api/v1/payments/${payment.id}`, { headers: { [INTERNAL_IDENTITY_HEADER]: read } })).status).toBe(200);
      const expire = await call('POST', `${payments.url}/api/v1/payments/${payment.id}/expire`, { headers: { [INTERNAL_IDENTITY_HEADER]: read }, body: {} });
      expect(expire.status).toBe(401);
      expect((await client.getPaymentDetail(payment.id)).status).toBe('init');
    });
  });

  describe('input', () => {
    it('refuses mass assignment of status, amount, user_id and total_amount (400) and changes nothing', async () => {
      const item = { product_id: await system.productAt('10.00'), quantity: 1 };
      // Two customers, so that neither exceeds the stack's per-user rate limit (20 a minute).
      const orderer = tokenOf(someone('orderer'));
      for (const extra of [{ status: 'paid' }, { user_id: 'someone-else' }, { total_amount: '0.01' }, { amount: '0.01' }, { id: 'chosen-id' }]) {
        const answer = await call('POST', '/orders', { token: orderer, body: { items: [item], ...extra } });
        expectErrorFormat(answer, 400, 'bad_request');
        expect(answer.body.error?.details?.issues?.[0]?.code).toBe('unrecognized_keys');
      }
      expectErrorFormat(await call('POST', '/orders', { token: orderer, body: { items: [{ ...item, total_amount: '0.01' }] } }), 400, 'bad_request');
      // The name is the catalog's: a client-sent one is an unknown field, not a label it may choose.
      expectErrorFormat(await call('POST', '/orders', { token: orderer, body: { items: [{ ...item, name: 'Free gift' }] } }), 400, 'bad_request');
      expect((await call('GET', '/orders', { token: orderer })).body.count).toBe(0);

      const sub = someone('buyer');
      const token = tokenOf(sub);

      const placed = (await call('POST', '/orders', { token, body: { items: [item] } })).body as unknown as OrderView;
      for (const extra of [{ status: 'succeeded' }, { user_id: 'someone-else' }, { transaction_id: 'txn-free' }, { expires_at: '2999-01-01T00:00:00Z' }]) {
        expectErrorFormat(await call('POST', '/payments', { token, body: { order_id: placed.id, ...extra } }), 400, 'bad_request');
      }
      // `amount` is a field of createPayment (the original frontend sends it); one that differs from the total is a business-rule refusal.
      expectErrorFormat(await call('POST', '/payments', { token, body: { order_id: placed.id, amount: '0.01' } }), 422, 'amount_mismatch');
      expect((await call('GET', `/payments?order_id=${placed.id}`, { token })).body.count).toBe(0);

      const payment = (await call('POST', '/payments', { token, body: { order_id: placed.id } })).body as unknown as PaymentView;
      expect(payment).toMatchObject({ status: 'init', amount: '10.00' });
      expectErrorFormat(await call('POST', `/payments/${payment.id}/start`, { token, body: { status: 'succeeded' } }), 400, 'bad_request');
      expectErrorFormat(await call('POST', `/payments/${payment.id}/cancel`, { token, body: { amount: '0.00' } }), 400, 'bad_request');
      expectErrorFormat(await call('POST', `/orders/${placed.id}/cancel`, { token, body: { status: 'paid' } }), 400, 'bad_request');

      const after = (await call('GET', `/payments/${payment.id}`, { token })).body as unknown as PaymentView;
      expect(after).toMatchObject({ status: 'init', amount: '10.00', user_id: sub });
      expect((await call('GET', `/orders/${placed.id}`, { token })).body).toMatchObject({ status: 'pending_payment', total_amount: '10.00', user_id: sub });
    });

    it('refuses $-operators and repeated parameters in query strings and bodies (400)', async () => {
      const token = tokenOf(someone('nosql'));
      const auditor = tokenOf(someone('aud'), 'auditor');
      for (const query of ['/orders?status[$ne]=paid', '/orders?user_id[$ne]=nobody', '/orders?status=paid&status=cancelled', '/payments?order_id[$gt]=', '/payments?order_id=$where', '/payments?order_id[$regex]=.*']) {
        expectErrorFormat(await call('GET', query, { token }), 400, 'bad_request');
      }
      expectErrorFormat(await call('GET', '/audit/events?payment_id[$regex]=.*', { token: auditor }), 400, 'bad_request');
      expectErrorFormat(await call('POST', '/payments', { token, body: { order_id: { $gt: '' } } }), 400, 'bad_request');
      expectErrorFormat(await call('POST', '/orders', { token, body: { items: [{ product_id: { $ne: null }, quantity: 1 }] } }), 400, 'bad_request');
    });

    it('refuses a path that dot-segments out of its route family instead of reaching an internal endpoint', async () => {
      const token = tokenOf(someone('walker'));
      for (const path of ['/api/v1/orders/../../../metrics', '/api/v1/payments/%2e%2e/%2e%2e/%2e%2e/readyz', '/api/v1/orders/..\\..\\..\\metrics']) {
        const answer = await rawGet(system.stack.gatewayUrl, path, { authorization: `Bearer ${token}` });
        expect([path, answer.status]).toEqual([path, 400]);
        expect(answer.body).not.toContain('http_request_duration_seconds');
      }
    });
  });

  describe('rate limits', () => {
    it('answers 429 with Retry-After after the per-user limit, and only for that user', async () => {
      const busy = tokenOf(someone('busy'));
      const answers = await Promise.all(Array.from({ length: PER_USER_LIMIT + 5 }, () => call('GET', '/orders?page_size=1', { token: busy })));
      const statuses = answers.map((answer) => answer.status);
      expect(statuses.filter((status) => status === 200)).toHaveLength(PER_USER_LIMIT);
      expect(statuses.filter((status) => status === 429)).toHaveLength(5);
      const limited = answers.find((answer) => answer.status === 429)!;
      expect(limited.body.error?.code).toBe('rate_limited');
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60).toBe(true);

      expect((await call('GET', '/orders?page_size=1', { token: tokenOf(someone('calm')) })).status).toBe(200);
      expect((await call('GET', '/orders?page_size=1', { token: busy })).status).toBe(429);
    });
  });

  describe('headers and request ids', () => {
    it('sets the security headers on answers, errors included', async () => {
      for (const answer of [await call('GET', '/orders', { token: tokenOf(someone('hdr')) }), await call('GET', '/orders')]) {
        expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
        expect(answer.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
        expect(answer.headers.get('content-security-policy')).toContain("default-src 'self'");
        expect(answer.headers.get('x-frame-options')).toBe('SAMEORIGIN');
        expect(answer.headers.get('referrer-policy')).toBe('no-referrer');
        expect(answer.headers.get('cross-origin-opener-policy')).toBe('same-origin');
        expect(answer.headers.get('x-powered-by')).toBeNull();
      }
    });

    it('echoes a client x-request-id and makes it the correlation_id of the events the request caused', async () => {
      const token = tokenOf(someone('traced'));
      const orderRequestId = `e2e-order-${randomUUID()}`;
      const placed = await call('POST', '/orders', { token, headers: { 'x-request-id': orderRequestId }, body: { items: [{ product_id: await system.productAt('5.00'), quantity: 1 }] } });
      expect(placed.status).toBe(201);
      expect(placed.headers.get('x-request-id')).toBe(orderRequestId);
      const orderId = (placed.body as unknown as OrderView).id;

      const paymentRequestId = `e2e-payment-${randomUUID()}`;
      const created = await call('POST', '/payments', { token, headers: { 'x-request-id': paymentRequestId }, body: { order_id: orderId } });
      expect(created.status).toBe(201);
      expect(created.headers.get('x-request-id')).toBe(paymentRequestId);

      const records = await auditRecordsOf(orderId, ['order_created', 'payment_created']);
      expect(records.order_created?.correlation_id).toBe(orderRequestId);
      expect(records.payment_created?.correlation_id).toBe(paymentRequestId);
    });

    it('generates a request id when none (or a malformed one) is sent, and it too reaches the events', async () => {
      const token = tokenOf(someone('untraced'));
      const placed = await call('POST', '/orders', { token, body: { items: [{ product_id: await system.productAt('6.00'), quantity: 1 }] } });
      const generated = placed.headers.get('x-request-id');
      expect(generated).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(placed.body.error).toBeUndefined();
      const records = await auditRecordsOf((placed.body as unknown as OrderView).id, ['order_created']);
      expect(records.order_created?.correlation_id).toBe(generated);

      for (const malformed of ['x'.repeat(65), 'has spaces in it', 'x'.repeat(200)]) {
        const answer = await call('GET', '/orders', { token, headers: { 'x-request-id': malformed } });
        expect(answer.headers.get('x-request-id')).not.toBe(malformed);
        expect(answer.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      }
    });

    /** The order's audit records by action, once all the wanted ones are there (a fresh auditor per poll: no rate limit). */
    async function auditRecordsOf(orderId: string, actions: string[]): Promise<Record<string, { correlation_id: string }>> {
      return eventually(`audit records ${actions.join(', ')}`, async () => {
        const page = await system.client(someone('aud'), 'auditor').getAuditEvents({ order_id: orderId, page_size: 100 });
        const byAction = Object.fromEntries(page.results.map((record) => [record.action as string, record as unknown as { correlation_id: string }]));
        return actions.every((action) => byAction[action]) ? byAction : undefined;
      });
    }
  });

  describe('metrics', () => {
    it('exposes Prometheus latency on the gateway, labelled by route pattern rather than by id', async () => {
      const client = system.client(someone('metered'));
      const placed = await order(client);
      await client.getOrder(placed.id);
      const text = await (await fetch(`${system.stack.metricsUrl('api-gateway')}/metrics`)).text();
      expect(text).toContain('# TYPE http_request_duration_seconds histogram');
      expect(text).toContain('route="/api/v1/orders{/*rest}"');
      expect(text).not.toContain(placed.id);
    });

    it('answers /metrics with 404 and /readyz without dependency details on the public ports; the metrics port serves both', async () => {
      const publicPorts = { 'api-gateway': system.stack.gatewayUrl, 'callback-gateway': system.stack.callbackUrl };
      for (const [name, url] of Object.entries(publicPorts) as [keyof typeof publicPorts, string][]) {
        const metrics = await fetch(`${url}/metrics`);
        expect({ name, status: metrics.status }).toEqual({ name, status: 404 });
        expect(await metrics.text()).not.toContain('process_cpu');
        const ready = await fetch(`${url}/readyz`);
        expect({ name, status: ready.status, body: await ready.json() }).toEqual({ name, status: 200, body: { status: 'ready' } });

        const internal = system.stack.metricsUrl(name);
        expect(await (await fetch(`${internal}/metrics`)).text()).toContain('# TYPE process_cpu_seconds_total counter');
        expect({ name, body: await (await fetch(`${internal}/readyz`)).json() }).toEqual({ name, body: { status: 'ready', checks: expect.any(Object) } });
      }
      expect(await (await fetch(`${system.stack.metricsUrl('callback-gateway')}/readyz`)).json()).toEqual({ status: 'ready', checks: { broker: true, database: true } });
    });

    it('the services behind the gateway keep /metrics and readiness details off the port the gateway forwards to', async () => {
      for (const name of ['order-service', 'payment-service', 'audit-service'] as const) {
        const service = system.stack.services[name];
        expect({ name, status: (await fetch(`${service.url}/metrics`)).status }).toEqual({ name, status: 404 });
        expect({ name, body: await (await fetch(`${service.url}/readyz`)).json() }).toEqual({ name, body: { status: 'ready' } });
        expect(await (await fetch(`${service.metricsUrl}/readyz`)).json()).toEqual({ status: 'ready', checks: { broker: true, database: true } });
      }
      // Through the gateway: no route reaches a backend's /metrics, even a valid user's.
      const token = tokenOf(someone('scraper'));
      for (const path of ['/api/v1/metrics', '/api/v1/orders/metrics', '/api/v1/payments/metrics']) {
        const answer = await rawGet(system.stack.gatewayUrl, path, { authorization: `Bearer ${token}` });
        expect(answer.body).not.toContain('http_request_duration_seconds');
      }
    });
  });
});

/** An HS256 JWT built by hand with any key (what an attacker can make without our secret). */
function forgeHs256(claims: object, key: string): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}
