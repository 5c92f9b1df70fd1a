import net from 'node:net';
import type { ApiClient } from '@pay/client';
import type { OrderView, Page, PaymentView } from '@pay/contracts';
import { SERVICE_NAMES } from '@pay/harness';
import { startTestStack, type TestStack } from '../support/stack';

/**
 * Hostile and clumsy input at every public order and payment route, through the gateway: each request
 * gets a clear 4xx in the error format, nothing is stored or changed, and no service dies.
 */
type Method = 'GET' | 'POST' | 'PATCH';
interface Answer {
  status: number;
  body: unknown;
}
interface Case {
  what: string;
  method: Method;
  /** `:order` and `:payment` stand for the ids of the customer's real order and payment; `:product` for a real product. */
  path: string;
  /** An object is sent as JSON; a string is sent as it is (malformed JSON, oversized bodies). */
  body?: unknown;
  as?: 'customer' | 'admin';
  status: number;
  code?: string;
}

/** Catalog products the stack is given before the cases run (ids chosen by the admin). */
const PRODUCT = { id: 'sku-1', name: 'Thing', unit_price: '10.00' };
const PRICIEST = { id: 'sku-max', name: 'Most expensive', unit_price: '9999999999.99' };
const item = { product_id: PRODUCT.id, quantity: 1 };
const withItem = (patch: Record<string, unknown>) => ({ items: [{ ...item, ...patch }] });
const anOrder = { items: [item] };
const hugeBody = JSON.stringify({ items: [{ ...item, note: 'x'.repeat(40_000) }] }); // > 32 kB
const hugeReason = JSON.stringify({ reason: 'x'.repeat(40_000) });
const deeplyNested = `{"items":${'['.repeat(5000)}${']'.repeat(5000)}}`;
const weirdIds = [
  ['a path traversal', '..%2F..%2Forders'],
  ['a 65-character id', 'a'.repeat(65)],
  ['a 5000-character id', 'b'.repeat(5000)],
  ['a NUL byte', 'x%00y'],
  ['an operator object', encodeURIComponent('{"$ne":null}')],
  ['a broken percent escape', '%E0%A4%A'],
  ['spaces and quotes', encodeURIComponent(`x' OR '1'='1`)],
] as const;

/** Malformed prices: refused (400) wherever a price is taken, in an order item and in the catalog. */
const badPrices: [string, unknown][] = [
  ['a negative unit price', '-1.00'],
  ['a negative numeric unit price', -1],
  ['a 3-decimal unit price', '1.005'],
  ['a 3-decimal numeric unit price', 1.005],
  ['an oversized unit price', '10000000000.00'],
  ['a 30-digit unit price', '9'.repeat(30)],
  ['a unit price in exponent form', '1e3'],
  ['a unit price with spaces', ' 1.00'],
  ['a boolean unit price', true],
  ['an operator as unit price', { $ne: null }],
];

const orderBodies: [string, unknown][] = [
  ['items as a string', { items: 'x' }],
  ['no items field', {}],
  ['an empty item list', { items: [] }],
  ['101 items', { items: Array.from({ length: 101 }, () => item) }],
  ['an item that is a number', { items: [5] }],
  ['quantity as a string', withItem({ quantity: '2' })],
  ['zero quantity', withItem({ quantity: 0 })],
  ['negative quantity', withItem({ quantity: -1 })],
  ['fractional quantity', withItem({ quantity: 1.5 })],
  ['quantity 1001', withItem({ quantity: 1001 })],
  ['a huge quantity', withItem({ quantity: 1e12 })],
  ...badPrices.map(([what, price]): [string, unknown] => [what, withItem({ unit_price: price })]),
  ['an empty product id', withItem({ product_id: '' })],
  // PostgreSQL (under FerretDB) cannot store U+0000: without a check at the edge these were 500s.
  ['a NUL character in the product id', withItem({ product_id: 'sku\u0000' })],
  // Names come from the catalog: a client-sent one is an unknown field.
  ['an item name', withItem({ name: 'Free gift' })],
  ['an unknown item field amount', withItem({ amount: '1.00' })],
  ['an unknown field status', { ...anOrder, status: 'paid' }],
  ['an unknown field user_id', { ...anOrder, user_id: 'bob' }],
  ['an unknown field total_amount', { ...anOrder, total_amount: '0.01' }],
  ['an unknown field amount', { ...anOrder, amount: '0.01' }],
  ['a lower-case currency', { ...anOrder, currency: 'cny' }],
  ['an operator as currency', { ...anOrder, currency: { $ne: null } }],
  ['an operator as items', { items: { $ne: null } }],
  ['an array body', []],
  // 9999999999.99 × 2 is a valid price and quantity but twice the largest total the system holds.
  ['a total above the maximum amount', { items: [{ product_id: PRICIEST.id, quantity: 2 }] }],
  ['a total beyond safe integers', { items: Array.from({ length: 100 }, () => ({ product_id: PRICIEST.id, quantity: 1000 })) }],
];

const productBodies: [string, unknown][] = [
  ...badPrices.map(([what, price]): [string, unknown] => [what, { name: 'Tea', unit_price: price }]),
  ['no unit price', { name: 'Tea' }],
  ['no name', { unit_price: '1.00' }],
  ['a NUL character in the name', { name: 'Green\u0000tea', unit_price: '1.00' }],
  ['a 201-character name', { name: 'n'.repeat(201), unit_price: '1.00' }],
  ['an id with a slash', { id: 'a/b', name: 'Tea', unit_price: '1.00' }],
  ['a 65-character id', { id: 'p'.repeat(65), name: 'Tea', unit_price: '1.00' }],
  ['an operator as id', { id: { $ne: null }, name: 'Tea', unit_price: '1.00' }],
  ['a lower-case currency', { name: 'Tea', unit_price: '1.00', currency: 'cny' }],
  ['active as a string', { name: 'Tea', unit_price: '1.00', active: 'yes' }],
  ['an unknown field version', { name: 'Tea', unit_price: '1.00', version: 7 }],
];

const productChanges: [string, unknown][] = [
  ...badPrices.map(([what, price]): [string, unknown] => [what, { unit_price: price }]),
  ['no field at all', {}],
  ['a 201-character name', { name: 'n'.repeat(201) }],
  ['a new id', { id: 'other' }],
  ['a new currency (a price change is a new product)', { currency: 'USD' }],
  ['active as a string', { active: 'no' }],
];

const paymentBodies: [string, unknown][] = [
  ['no order_id', {}],
  ['a numeric order_id', { order_id: 5 }],
  ['an operator as order_id', { order_id: { $ne: null } }],
  ['a path as order_id', { order_id: '../orders' }],
  ['an unknown method', { order_id: 'o-1', method: 'cash' }],
  ['a negative amount', { order_id: 'o-1', amount: '-1.00' }],
  ['a 3-decimal amount', { order_id: 'o-1', amount: '10.001' }],
  ['a 3-decimal numeric amount', { order_id: 'o-1', amount: 10.001 }],
  ['an oversized amount', { order_id: 'o-1', amount: '10000000000.00' }],
  ['an amount in exponent form', { order_id: 'o-1', amount: '1e3' }],
  ['a word as amount', { order_id: 'o-1', amount: 'ten' }],
  ['an operator as amount', { order_id: 'o-1', amount: { $gt: 0 } }],
  ['an unknown field status', { order_id: 'o-1', status: 'succeeded' }],
  ['an unknown field user_id', { order_id: 'o-1', user_id: 'bob' }],
  ['an unknown field transaction_id', { order_id: 'o-1', transaction_id: 't' }],
  ['an unknown field expires_at', { order_id: 'o-1', expires_at: '2099-01-01T00:00:00Z' }],
];

/** The same broken bodies at every route that takes one. */
function brokenBodies(method: Method, path: string, as: Case['as'] = 'customer'): Case[] {
  return [
    { what: 'malformed JSON', method, path, body: '{"reason": ', as, status: 400 },
    { what: 'single-quoted JSON', method, path, body: "{'reason': 'x'}", as, status: 400 },
    { what: 'trailing garbage', method, path, body: '{} x', as, status: 400 },
    { what: 'a body over 32 kB', method, path, body: path.endsWith('/orders') ? hugeBody : hugeReason, as, status: 413, code: 'payload_too_large' },
    { what: 'a __proto__ field', method, path, body: path.endsWith('/orders') ? `{"__proto__":{"status":"paid"},"items":${JSON.stringify(anOrder.items)}}` : '{"__proto__":{"status":"paid"}}', as, status: 400 },
  ];
}

function actionCases(action: string, as: Case['as']): Case[] {
  const path = `/payments/:payment/${action}`;
  return [
    { what: 'an unknown field status', method: 'POST', path, body: { status: 'succeeded' }, as, status: 400 },
    { what: 'an unknown field amount', method: 'POST', path, body: { amount: '1.00' }, as, status: 400 },
    { what: 'an unknown field transaction_id', method: 'POST', path, body: { transaction_id: 'forged' }, as, status: 400 },
    { what: 'a reason of the wrong type', method: 'POST', path, body: { reason: 5 }, as, status: 400 },
    { what: 'an operator as reason', method: 'POST', path, body: { reason: { $ne: null } }, as, status: 400 },
    { what: 'a NUL character in the reason', method: 'POST', path, body: { reason: 'changed\u0000mind' }, as, status: 400 },
    ...brokenBodies('POST', path, as),
    { what: 'a payment that does not exist', method: 'POST', path: `/payments/no-such-payment/${action}`, as, status: 404, code: 'not_found' },
    ...weirdIds.map(([what, id]): Case => ({ what, method: 'POST', path: `/payments/${id}/${action}`, as, status: 400 })),
  ];
}

const cases: Record<string, Case[]> = {
  'POST /orders': [
    ...orderBodies.map(([what, body]): Case => ({ what, method: 'POST', path: '/orders', body, status: 400, code: 'bad_request' })),
    ...brokenBodies('POST', '/orders'),
    // Well-formed, but the shop's rules say no (nothing is stored either).
    { what: "a unit price other than the catalog's", method: 'POST', path: '/orders', body: withItem({ unit_price: '0.01' }), status: 422, code: 'price_mismatch' },
    { what: 'a product that does not exist', method: 'POST', path: '/orders', body: withItem({ product_id: 'no-such-product' }), status: 422, code: 'unknown_product' },
  ],
  'POST /products': [
    ...productBodies.map(([what, body]): Case => ({ what, method: 'POST', path: '/products', body, as: 'admin', status: 400, code: 'bad_request' })),
    ...brokenBodies('POST', '/products', 'admin'),
    { what: 'an id already taken', method: 'POST', path: '/products', body: { id: PRODUCT.id, name: 'Cheaper thing', unit_price: '0.01' }, as: 'admin', status: 409, code: 'duplicate_product' },
    { what: 'a customer', method: 'POST', path: '/products', body: { name: 'Tea', unit_price: '0.01' }, status: 403, code: 'forbidden' },
  ],
  'PATCH /products/:id': [
    ...productChanges.map(([what, body]): Case => ({ what, method: 'PATCH', path: '/products/:product', body, as: 'admin', status: 400, code: 'bad_request' })),
    ...brokenBodies('PATCH', '/products/:product', 'admin'),
    { what: 'a product that does not exist', method: 'PATCH', path: '/products/no-such-product', body: { active: false }, as: 'admin', status: 404, code: 'not_found' },
    { what: 'a customer', method: 'PATCH', path: '/products/:product', body: { unit_price: '0.01' }, status: 403, code: 'forbidden' },
    ...weirdIds.map(([what, id]): Case => ({ what, method: 'PATCH', path: `/products/${id}`, body: { active: false }, as: 'admin', status: 400 })),
  ],
  'GET /products': [
    ['an operator in page', 'page[$gt]=1'],
    ['page_size 1000', 'page_size=1000'],
    ['include_inactive as a number', 'include_inactive=1'],
    ['an unknown filter price', 'unit_price=0.01'],
  ].map(([what, query]): Case => ({ what: what!, method: 'GET', path: `/products?${query}`, status: 400, code: 'bad_request' })),
  'GET /orders': [
    ['an unknown status', 'status=bogus'],
    ['an operator in status', 'status[$ne]=paid'],
    ['an operator in page', 'page[$gt]=1'],
    ['a word as page', 'page=abc'],
    ['page 0', 'page=0'],
    ['a fractional page', 'page=1.5'],
    ['an infinite page', 'page=1e400'],
    ['page_size 1000', 'page_size=1000'],
    ['a negative page_size', 'page_size=-1'],
    ['an unknown filter user_id', 'user_id=bob'],
    ['a __proto__ parameter', '__proto__=x'],
    ['a repeated status', 'status=paid&status=cancelled'],
  ].map(([what, query]): Case => ({ what: what!, method: 'GET', path: `/orders?${query}`, status: 400, code: 'bad_request' })),
  'GET /orders/:id': [
    { what: 'an order that does not exist', method: 'GET', path: '/orders/no-such-order', status: 404, code: 'not_found' },
    ...weirdIds.map(([what, id]): Case => ({ what, method: 'GET', path: `/orders/${id}`, status: 400 })),
  ],
  'POST /orders/:id/cancel': [
    { what: 'an unknown field status', method: 'POST', path: '/orders/:order/cancel', body: { status: 'cancelled' }, status: 400 },
    { what: 'a reason of the wrong type', method: 'POST', path: '/orders/:order/cancel', body: { reason: 5 }, status: 400 },
    { what: 'a 201-character reason', method: 'POST', path: '/orders/:order/cancel', body: { reason: 'r'.repeat(201) }, status: 400 },
    { what: 'an operator as reason', method: 'POST', path: '/orders/:order/cancel', body: { reason: { $ne: null } }, status: 400 },
    { what: 'a NUL character in the reason', method: 'POST', path: '/orders/:order/cancel', body: { reason: 'changed\u0000mind' }, status: 400, code: 'bad_request' },
    ...brokenBodies('POST', '/orders/:order/cancel'),
    { what: 'an order that does not exist', method: 'POST', path: '/orders/no-such-order/cancel', status: 404, code: 'not_found' },
    ...weirdIds.map(([what, id]): Case => ({ what, method: 'POST', path: `/orders/${id}/cancel`, status: 400 })),
  ],
  'GET /payments': [
    ['an operator in order_id', 'order_id[$ne]=x'],
    ['an operator in page', 'page[$gt]=1'],
    ['a path as order_id', 'order_id=..%2Forders'],
    ['a 65-character order_id', `order_id=${'o'.repeat(65)}`],
    ['a 5000-character order_id', `order_id=${'o'.repeat(5000)}`],
    ['a repeated order_id', 'order_id=a&order_id=b'],
    ['an unknown filter user_id', 'user_id=alice'],
    ['an unknown filter status', 'status=init'],
    ['page_size 1000', 'page_size=1000'],
    ['a word as page', 'page=abc'],
    ['an empty page', 'page='],
  ].map(([what, query]): Case => ({ what: what!, method: 'GET', path: `/payments?${query}`, status: 400, code: 'bad_request' })),
  'POST /payments': [
    ...paymentBodies.map(([what, body]): Case => ({ what, method: 'POST', path: '/payments', body, status: 400, code: 'bad_request' })),
    ...brokenBodies('POST', '/payments'),
    { what: 'an order that does not exist', method: 'POST', path: '/payments', body: { order_id: 'no-such-order' }, status: 404, code: 'not_found' },
    { what: 'an amount different from the order total', method: 'POST', path: '/payments', body: { order_id: ':order', amount: '0.01' }, status: 422, code: 'amount_mismatch' },
    { what: 'a second live payment', method: 'POST', path: '/payments', body: { order_id: ':order' }, status: 409, code: 'live_payment_exists' },
  ],
  'GET /payments/:id': [
    { what: 'a payment that does not exist', method: 'GET', path: '/payments/no-such-payment', status: 404, code: 'not_found' },
    ...weirdIds.map(([what, id]): Case => ({ what, method: 'GET', path: `/payments/${id}`, status: 400 })),
  ],
  'POST /payments/:id/start': actionCases('start', 'customer'),
  'POST /payments/:id/cancel': actionCases('cancel', 'customer'),
  'POST /payments/:id/succeed': actionCases('succeed', 'admin'),
  'POST /payments/:id/fail': actionCases('fail', 'admin'),
  'POST /payments/:id/expire': actionCases('expire', 'admin'),
};

describe('bad input at every public order, catalog and payment route', () => {
  let system: TestStack;
  let alice: ApiClient;
  let admin: ApiClient;
  let order: OrderView;
  let payment: PaymentView;
  let before: { orders: Page<OrderView>; payments: Page<PaymentView> };

  beforeAll(async () => {
    // Hundreds of requests from one IP and two users within a minute: lift the rate limits for this file.
    system = await startTestStack('badinput', { RATE_LIMIT_PER_IP: '10000', RATE_LIMIT_PER_USER: '10000', ORDER_WAIT_MS: '500' });
    alice = system.client('alice');
    admin = system.client('ops-1', 'admin');
    await admin.createProduct(PRODUCT);
    await admin.createProduct(PRICIEST);
    order = await alice.createOrder({ items: [{ product_id: await system.productAt('12.50'), quantity: 2 }] });
    payment = await alice.createPayment({ order_id: order.id });
    before = await everything();
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  });

  /** Admin's view of every order and payment of this stack. */
  async function everything() {
    return {
      orders: await admin.getOrders({ page_size: 100 }),
      payments: await admin.getPayments({ page_size: 100 }),
      products: await admin.listProducts({ include_inactive: true, page_size: 100 }),
    };
  }

  async function send(method: Method, path: string, body: unknown, token: string | null): Promise<Answer> {
    const resolved = path.replace(':order', order.id).replace(':payment', payment.id).replace(':product', PRODUCT.id);
    const text = body === undefined ? (method === 'GET' ? undefined : '{}') : typeof body === 'string' ? body : JSON.stringify(body).replace('":order"', JSON.stringify(order.id));
    const response = await fetch(`${system.stack.gatewayUrl}/api/v1${resolved}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(text !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: text,
    });
    const raw = await response.text();
    let parsed: unknown = raw;
    try {
      parsed = JSON.parse(raw);
    } catch {
      // left as text: the assertion below shows it
    }
    return { status: response.status, body: parsed };
  }

  const errorFormat = {
    error: expect.objectContaining({ code: expect.stringMatching(/^[a-z_]+$/), message: expect.any(String), request_id: expect.any(String) }),
  };

  describe.each(Object.entries(cases))('%s', (_route, table) => {
    it.each(table.map((c) => [c.what, c] as const))('refuses %s', async (_what, c) => {
      const token = system.token(c.as === 'admin' ? 'ops-1' : 'alice', c.as === 'admin' ? 'admin' : 'customer');
      const answer = await send(c.method, c.path, c.body, token);
      expect({ status: answer.status, body: answer.body }).toEqual({ status: c.status, body: errorFormat });
      if (c.code) expect((answer.body as { error: { code: string } }).error.code).toBe(c.code);
    });
  });

  const bodyRoutes: [string, Case['as']][] = [
    ['/orders', 'customer'], ['/orders/:order/cancel', 'customer'], ['/payments', 'customer'], ['/payments/:payment/start', 'customer'],
    ['/payments/:payment/cancel', 'customer'], ['/payments/:payment/succeed', 'admin'], ['/payments/:payment/fail', 'admin'], ['/payments/:payment/expire', 'admin'],
    ['/products', 'admin'],
  ];
  const tokenFor = (as: Case['as']) => (as === 'admin' ? system.token('ops-1', 'admin') : system.token('alice'));

  it('answers a deeply nested body (5000 levels, inside the size limit) in the error format, and the gateway keeps serving', async () => {
    for (const [path, as] of bodyRoutes) {
      const answer = await send('POST', path, deeplyNested, tokenFor(as));
      expect({ path, status: answer.status >= 400 && answer.status !== 500, body: answer.body }).toEqual({ path, status: true, body: errorFormat });
    }
    expect((await alice.getOrder(order.id)).status).toBe('pending_payment');
  });

  // Was a 503: the gateway re-serialised the parsed body with JSON.stringify, which overflowed the stack.
  it('refuses a deeply nested body with 400 at every route that takes a body', async () => {
    for (const [path, as] of bodyRoutes) {
      const answer = await send('POST', path, deeplyNested, tokenFor(as));
      expect({ path, status: answer.status }).toEqual({ path, status: 400 });
    }
  });

  // Was a success: a non-JSON body became {} and the request still acted (here: cancelled the order).
  it('refuses a body that is not JSON (415) instead of acting on an empty one', async () => {
    for (const [path, as] of bodyRoutes) {
      const response = await fetch(`${system.stack.gatewayUrl}/api/v1${path.replace(':order', order.id).replace(':payment', payment.id)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokenFor(as)}`, 'content-type': 'text/plain' },
        body: '{"status":"paid"}',
      });
      expect({ path, status: response.status, body: await response.json() }).toEqual({ path, status: 415, body: errorFormat });
    }
    expect((await alice.getOrder(order.id)).status).toBe('pending_payment');
  });

  // Was a success: the bytes were decoded to U+FFFD and stored (a refund requested and a payment failed with reason "����").
  it('refuses a body that is not valid UTF-8 (400) instead of storing replacement characters', async () => {
    const invalid = Buffer.concat([Buffer.from('{"reason":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf]), Buffer.from('","amount":"1.00"}')]);
    for (const [path, as] of [...bodyRoutes, ['/payments/:payment/refunds', 'admin'] as [string, Case['as']]]) {
      const response = await fetch(`${system.stack.gatewayUrl}/api/v1${path.replace(':order', order.id).replace(':payment', payment.id)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokenFor(as)}`, 'content-type': 'application/json', 'idempotency-key': `badinput-utf8-${path.length}` },
        body: invalid,
      });
      expect({ path, status: response.status, body: await response.json() }).toEqual({ path, status: 400, body: errorFormat });
    }
    expect((await alice.getPaymentDetail(payment.id)).status).toBe('init');
  });

  // Were Node's bare answers (empty bodies): oversized headers 431, an unknown Expect 417, unparsable bytes 400.
  it('answers requests refused by the HTTP parser in the error format, at both gateways', async () => {
    const exchange = (base: string, head: string) =>
      new Promise<{ status: number; body: unknown }>((resolve, reject) => {
        const { hostname, port } = new URL(base);
        const chunks: Buffer[] = [];
        const socket = net.connect({ host: hostname, port: Number(port) }, () => socket.write(head));
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.on('error', reject);
        socket.on('close', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: Number(text.split(' ')[1]), body: JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as unknown });
        });
      });
    const bare = { error: { code: expect.stringMatching(/^[a-z_]+$/), message: expect.any(String) } };
    // The callback gateway itself (with STACK_REPLICAS, callbackUrl is the harness' balancer in front of it).
    const callbackGateway = system.stack.replicas['callback-gateway'][0]!.url;
    for (const base of [system.stack.gatewayUrl, callbackGateway]) {
      const path = base === system.stack.gatewayUrl ? '/api/v1/orders' : '/callbacks/mock';
      expect(await exchange(base, `GET ${path} HTTP/1.1\r\nhost: x\r\nx-big: ${'h'.repeat(20_000)}\r\n\r\n`)).toEqual({ status: 431, body: bare });
      expect(await exchange(base, `POST ${path} HTTP/1.1\r\nhost: x\r\nexpect: fuzz\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}`)).toEqual({ status: 417, body: bare });
      expect(await exchange(base, 'NOT HTTP\r\n\r\n')).toEqual({ status: 400, body: bare });
    }
  });

  it('refuses every route without a valid token (401)', async () => {
    const routes: [Method, string][] = [
      ['POST', '/orders'], ['GET', '/orders'], ['GET', '/orders/:order'], ['POST', '/orders/:order/cancel'],
      ['GET', '/payments'], ['POST', '/payments'], ['GET', '/payments/:payment'],
      ['GET', '/products'], ['POST', '/products'], ['PATCH', '/products/:product'],
      ...['start', 'succeed', 'fail', 'cancel', 'expire'].map((action): [Method, string] => ['POST', `/payments/:payment/${action}`]),
    ];
    for (const [method, path] of routes) {
      for (const token of [null, 'not-a-jwt', `${system.token('alice')}x`]) {
        const answer = await send(method, path, method === 'GET' ? undefined : anOrder, token);
        expect({ route: `${method} ${path}`, status: answer.status, body: answer.body }).toEqual({ route: `${method} ${path}`, status: 401, body: errorFormat });
      }
    }
  });

  it('changed nothing, and every service is still alive', async () => {
    const after = await everything();
    expect(after.orders.count).toBe(before.orders.count);
    expect(after.payments.count).toBe(before.payments.count);
    expect(after).toEqual(before);
    expect(await alice.getPaymentDetail(payment.id)).toEqual(payment);
    expect(await alice.getOrder(order.id)).toEqual(order);
    for (const name of SERVICE_NAMES) {
      for (const service of system.stack.replicas[name]) {
        const health = await fetch(`${service.url}/healthz`);
        expect({ name, url: service.url, status: health.status }).toEqual({ name, url: service.url, status: 200 });
        const ready = await fetch(`${service.url}/readyz`);
        expect({ name, url: service.url, status: ready.status }).toEqual({ name, url: service.url, status: 200 });
      }
    }
  });
});
