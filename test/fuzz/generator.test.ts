import { generateKeyPairSync } from 'node:crypto';
import { CATEGORIES, generateRequests, type FuzzContext } from '../../scripts/fuzz/generate';
import { operationsOf, type OpenApiDocument } from '../../scripts/fuzz/operations';

/** A small document in the gateway's form: roles in the description, a path id, a query, a body with items. */
const document: OpenApiDocument = {
  paths: {
    '/orders': {
      get: { description: 'List orders. Roles: customer, admin.', parameters: [{ in: 'query', name: 'page', schema: { type: 'integer' } }] },
      post: {
        description: 'Create an order. Roles: customer.',
        parameters: [{ in: 'header', name: 'Idempotency-Key', schema: { type: 'string' } }],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { type: 'object', properties: { items: { type: 'array', items: { type: 'object', properties: { product_id: { type: 'string' }, quantity: { type: 'integer' } } } } } } } },
        },
      },
    },
    '/payments/{id}/refunds': {
      post: {
        description: 'Refund. Roles: admin.',
        parameters: [{ in: 'path', name: 'id', schema: { type: 'string' } }],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { amount: { type: 'string' }, reason: { type: 'string' } } } } } },
      },
    },
    '/openapi.json': { get: { description: 'This document.' } },
  },
};

const signed = { headers: { 'x-mock-signature': 't=1,v1=00' }, body: '{"payment_id":"p1"}' };
const context: FuzzContext = {
  operations: operationsOf(document),
  apiBase: '/api/v1',
  jwt: {
    secret: 'test-fixture-not-a-secret',
    audience: 'payments-api',
    issuer: 'payments-identity',
    nowSeconds: 1_800_000_000,
    rsaPrivateKeyPem: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  },
  users: { customers: ['alice', 'bob'], admin: 'ops', auditor: 'aud' },
  objects: { orders: [{ id: 'o1', owner: 'alice' }, { id: 'o2', owner: 'bob' }], payments: [{ id: 'p1', owner: 'alice' }], refunds: [{ id: 'p1r01', owner: 'alice' }], products: [{ id: 'tea' }] },
  callbacks: { mock: { mismatch: signed, stale: signed } },
};

describe('the fuzzer\u2019s request generator', () => {
  it('reads the operations from the OpenAPI document, without the document itself', () => {
    expect(context.operations.map((operation) => `${operation.method} ${operation.path} ${operation.roles.join('+')}`)).toEqual([
      'GET /orders customer+admin',
      'POST /orders customer',
      'POST /payments/{id}/refunds admin',
    ]);
  });

  it('produces the same requests, byte for byte, from the same seed', () => {
    const first = generateRequests(20261127, 400, context);
    const second = generateRequests(20261127, 400, context);
    expect(second).toEqual(first);
    // A shorter run is the start of a longer one: `--requests 2000` reproduces the first 2000 of a 10000 run.
    expect(generateRequests(20261127, 50, context)).toEqual(first.slice(0, 50));
  });

  it('produces other requests from another seed', () => {
    const a = generateRequests(1, 100, context).map((request) => `${request.method} ${request.path} ${request.body.toString('latin1')}`);
    const b = generateRequests(2, 100, context).map((request) => `${request.method} ${request.path} ${request.body.toString('latin1')}`);
    expect(b).not.toEqual(a);
  });

  it('covers every category, and marks only GET, HEAD and OPTIONS as reads', () => {
    const requests = generateRequests(7, 600, context);
    expect(new Set(requests.map((request) => request.category))).toEqual(new Set(CATEGORIES));
    for (const request of requests) expect({ method: request.method, read: request.read }).toEqual({ method: request.method, read: ['GET', 'HEAD', 'OPTIONS'].includes(request.method) });
  });
});
