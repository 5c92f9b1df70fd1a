import { createHmac, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { signInternalIdentity, signToken } from '@pay/auth';
import type { ApiClient } from '@pay/client';
import { INTERNAL_IDENTITY_HEADER, type OrderView, type PaymentView, type Role } from '@pay/contracts';
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

  beforeAll(async () => {
    system = await startTestStack('security', { RATE_LIMIT_PER_USER: String(PER_USER_LIMIT) });
    api = `${system.stack.gatewayUrl}/api/v1`;
    secret = system.env.JWT_SECRET!;
    internalSecret = system.env.INTERNAL_TOKEN_SECRET!;
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

  const tokenOf = (sub: string, role: Role = 'customer') => signToken({ sub, role }, secret, '10m');
  const order = (client: ApiClient, unitPrice = '12.50') => client.createOrder({ items: [{ product_id: 'sku-1', name: 'Tea', unit_price: unitPrice, quantity: 2 }] });

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
      ['expired token', () => jwt.sign({ sub: 'eve', role: 'customer', exp: now() - 600 }, secret, { algorithm: 'HS256' })],
      ['token without sub', () => jwt.sign({ role: 'customer' }, secret, { algorithm: 'HS256', expiresIn: 300 })],
      ['token without role', () => jwt.sign({ sub: 'eve' }, secret, { algorithm: 'HS256', expiresIn: 300 })],
      ['token with an unknown role', () => jwt.sign({ sub: 'eve', role: 'root' }, secret, { algorithm: 'HS256', expiresIn: 300 })],
      ['token with a non-string sub', () => jwt.sign({ sub: 42, role: 'admin' } as object, secret, { algorithm: 'HS256', expiresIn: 300 })],
      ['internal identity token used as a bearer token', () => signInternalIdentity({ sub: 'eve', role: 'admin' }, internalSecret)],
      ['HS384 token with the right secret (algorithm not pinned one)', () => jwt.sign({ sub: 'eve', role: 'admin' }, secret, { algorithm: 'HS384', expiresIn: 300 })],
      ['re-signed payload (role changed after signing)', () => {
        const [header, , signature] = signToken({ sub: 'eve', role: 'customer' }, secret).split('.');
        return `${header}.${b64({ sub: 'eve', role: 'admin', exp: now() + 300 })}.${signature}`;
      }],
    ];

    it.each(cases)('refuses a %s with 401 in the error format', async (_name, make) => {
      const answer = await call('GET', '/orders', { token: make() });
      expectErrorFormat(answer, 401, 'unauthorized');
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
    });

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
      const placed = await call('POST', '/orders', { token: tokenOf(auditor, 'auditor'), body: { items: [{ product_id: 'x', name: 'X', unit_price: '1.00', quantity: 1 }] } });
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
  });

  describe('internal identity', () => {
    it('ignores a client-sent x-internal-identity: the gateway forwards the bearer’s identity only', async () => {
      const victim = system.client(someone('victim'));
      const placed = await order(victim);
      const payment = await victim.createPayment({ order_id: placed.id });
      const mallory = someone('mallory');
      // Not even a token signed with the real internal secret (a leaked one) lets the client choose who it is.
      const forged = { [INTERNAL_IDENTITY_HEADER]: signInternalIdentity({ sub: 'root', role: 'admin' }, internalSecret) };

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

    it('internal services refuse requests without a valid gateway-signed identity', async () => {
      const services = system.stack.services;
      const now = Math.floor(Date.now() / 1000);
      const forgedIdentities: [string, Record<string, string>][] = [
        ['no identity', {}],
        ['an identity signed with a guessed secret', { [INTERNAL_IDENTITY_HEADER]: signInternalIdentity({ sub: 'root', role: 'admin' }, 'guessed-internal-secret-0123456789abcdef') }],
        ['an identity signed with the public JWT secret', { [INTERNAL_IDENTITY_HEADER]: signInternalIdentity({ sub: 'root', role: 'admin' }, secret) }],
        ['a public token in the identity header', { [INTERNAL_IDENTITY_HEADER]: tokenOf('root', 'admin') }],
        ['a public token as bearer', { authorization: `Bearer ${tokenOf('root', 'admin')}` }],
        ['an unsigned identity', { [INTERNAL_IDENTITY_HEADER]: jwt.sign({ sub: 'root', role: 'admin', aud: 'payments-internal', iss: 'api-gateway' }, '', { algorithm: 'none' }) }],
        ['an expired identity signed with the real secret', {
          [INTERNAL_IDENTITY_HEADER]: jwt.sign({ sub: 'root', role: 'admin', aud: 'payments-internal', iss: 'api-gateway', exp: now - 600 }, internalSecret, { algorithm: 'HS256' }),
        }],
        ['an identity with a forged HMAC', { [INTERNAL_IDENTITY_HEADER]: forgeHs256({ sub: 'root', role: 'admin', aud: 'payments-internal', iss: 'api-gateway', exp: now + 60 }, 'x') }],
      ];
      const targets = [`${services['order-service'].url}/api/v1/orders`, `${services['payment-service'].url}/api/v1/payments`, `${services['audit-service'].url}/api/v1/audit/events`];
      for (const target of targets) {
        for (const [name, headers] of forgedIdentities) {
          const answer = await call('GET', target, { headers });
          expect([name, answer.status]).toEqual([name, 401]);
          expect(answer.body.error?.code).toBe('unauthorized');
        }
        // The control: the same request with a real gateway-signed identity is served.
        const real = await call('GET', target, { headers: { [INTERNAL_IDENTITY_HEADER]: signInternalIdentity({ sub: someone('adm'), role: 'admin' }, internalSecret) } });
        expect(real.status).toBe(200);
      }
    });
  });

  describe('input', () => {
    it('refuses mass assignment of status, amount, user_id and total_amount (400) and changes nothing', async () => {
      const sub = someone('buyer');
      const token = tokenOf(sub);
      const item = { product_id: 'sku-1', name: 'Tea', unit_price: '10.00', quantity: 1 };
      for (const extra of [{ status: 'paid' }, { user_id: 'someone-else' }, { total_amount: '0.01' }, { amount: '0.01' }, { id: 'chosen-id' }]) {
        const answer = await call('POST', '/orders', { token, body: { items: [item], ...extra } });
        expectErrorFormat(answer, 400, 'bad_request');
        expect(answer.body.error?.details?.issues?.[0]?.code).toBe('unrecognized_keys');
      }
      expectErrorFormat(await call('POST', '/orders', { token, body: { items: [{ ...item, total_amount: '0.01' }] } }), 400, 'bad_request');
      expect((await call('GET', '/orders', { token })).body.count).toBe(0);

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
      expectErrorFormat(await call('POST', '/orders', { token, body: { items: [{ product_id: { $ne: null }, name: 'X', unit_price: '1.00', quantity: 1 }] } }), 400, 'bad_request');
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
      const placed = await call('POST', '/orders', { token, headers: { 'x-request-id': orderRequestId }, body: { items: [{ product_id: 'p', name: 'P', unit_price: '5.00', quantity: 1 }] } });
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
      const placed = await call('POST', '/orders', { token, body: { items: [{ product_id: 'p', name: 'P', unit_price: '6.00', quantity: 1 }] } });
      const generated = placed.headers.get('x-request-id');
      expect(generated).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(placed.body.error).toBeUndefined();
      const records = await auditRecordsOf((placed.body as unknown as OrderView).id, ['order_created']);
      expect(records.order_created?.correlation_id).toBe(generated);

      for (const malformed of ['short', 'has spaces in it', 'x'.repeat(200)]) {
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
      const text = await (await fetch(`${system.stack.gatewayUrl}/metrics`)).text();
      expect(text).toContain('# TYPE http_request_duration_seconds histogram');
      expect(text).toContain('route="/api/v1/orders{/*rest}"');
      expect(text).not.toContain(placed.id);
    });
  });
});

/** An HS256 JWT built by hand with any key (what an attacker can make without our secret). */
function forgeHs256(claims: object, key: string): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}
