import { serveInProcess, type InProcessServer } from '../../../test/support/in-process';
import express, { type Router } from 'express';
import { objectId, type Role } from '@pay/contracts';
import { errorMapper, validate } from '@pay/http';
import { createLogger } from '@pay/logger';
import { auditRoutes } from '../../audit-service/src/entry-points/http/routes';
import { productRoutes } from '../../order-service/src/entry-points/http/product-routes';
import { orderRoutes } from '../../order-service/src/entry-points/http/routes';
import type { PaymentConfig } from '../../payment-service/src/config';
import { paymentRoutes } from '../../payment-service/src/entry-points/http/routes';
import { PUBLIC_OPERATIONS, openApiDocument, type PublicOperation } from '../src/entry-points/http/openapi';

// Every `validate(schema, ...)` a service makes is recorded, so the test can see which schema objects it uses.
jest.mock('@pay/http', () => {
  const actual = jest.requireActual<typeof import('@pay/http')>('@pay/http');
  return { ...actual, validate: jest.fn(actual.validate) };
});
const validateSpy = validate as jest.MockedFunction<typeof validate>;

/** The design's "Public REST API", "Catalog" and "Refunds" sections, route by route. */
const DESIGN_ROUTES = [
  'GET /payments', 'POST /payments', 'GET /payments/{id}', 'POST /payments/{id}/start', 'POST /payments/{id}/succeed',
  'POST /payments/{id}/fail', 'POST /payments/{id}/cancel', 'POST /payments/{id}/expire',
  'POST /payments/{id}/refunds', 'GET /payments/{id}/refunds', 'GET /refunds/{id}',
  'POST /orders', 'GET /orders', 'GET /orders/{id}', 'POST /orders/{id}/cancel',
  'GET /products', 'POST /products', 'PATCH /products/{id}',
  'GET /audit/events', 'GET /audit/verify', 'GET /audit/reports/daily',
  // Not in the design's listing: rebuilding the report figures from the verified chain (issue 13).
  'POST /audit/reports/rebuild',
];

type Operation = { security?: Record<string, string[]>[]; responses: Record<string, { $ref?: string; content?: Record<string, unknown> }> };
const document = openApiDocument() as unknown as {
  openapi: string;
  servers: { url: string }[];
  security: Record<string, string[]>[];
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, { type: string; scheme: string }>; responses: Record<string, unknown>; schemas: Record<string, unknown> };
};
const documentedRoutes = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));

// The services' real routers, over stores that must never be reached (each request stops at validation or just after it).
const unreachable = new Proxy({}, { get: () => () => Promise.reject(new Error('not reached in this test')) }) as never;
const logger = createLogger('openapi-test', 'error');
logger.silent = true; // the stores answer every reached call with an error on purpose
const paymentConfig = { PAYMENT_SANDBOX: false, PAYMENT_TTL_MINUTES: 30, ORDER_WAIT_MS: 0 } as PaymentConfig;
const serviceRouters: Record<PublicOperation['tag'], Router> = {
  orders: orderRoutes(unreachable, logger),
  catalog: productRoutes(unreachable, logger),
  payments: paymentRoutes({ store: unreachable, calls: unreachable, orders: unreachable, config: paymentConfig, logger }),
  audit: auditRoutes({ store: unreachable, logger }),
};

/** `GET /orders/{id}`-style names of the routes an express router serves. */
function routesOf(router: Router): string[] {
  return router.stack.flatMap((layer) => {
    const route = layer.route as { path: string; methods: Record<string, boolean> } | undefined;
    if (!route) return [];
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    return Object.keys(route.methods).map((method) => `${method.toUpperCase()} ${path}`);
  });
}

describe('the OpenAPI document', () => {
  it('is OpenAPI 3 for /api/v1 and lists every public route of the design', () => {
    expect(document.openapi).toMatch(/^3\.0\./);
    expect(document.servers).toEqual([{ url: '/api/v1' }]);
    expect(documentedRoutes.filter((route) => route !== 'GET /openapi.json').sort()).toEqual([...DESIGN_ROUTES].sort());
    expect(documentedRoutes).toContain('GET /openapi.json');
  });

  it('documents exactly the routes the services serve', () => {
    const served = Object.values(serviceRouters).flatMap(routesOf);
    expect(served.sort()).toEqual([...DESIGN_ROUTES].sort());
  });

  it('requires the bearer scheme everywhere but on the document itself', () => {
    expect(document.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(document.security).toEqual([{ bearerAuth: [] }]);
    for (const route of DESIGN_ROUTES) {
      const [method, path] = route.split(' ') as [string, string];
      expect(document.paths[path]?.[method.toLowerCase()]?.security).toEqual([{ bearerAuth: [] }]);
    }
    expect(document.paths['/openapi.json']?.get?.security).toEqual([]);
  });

  it('describes success and error answers with the shared error body', () => {
    expect(document.components.schemas).toHaveProperty('ErrorBody');
    for (const name of ['OrderView', 'PaymentView', 'PaymentLogView', 'OrderItemView', 'OrderPage', 'ProductView', 'ProductPage', 'PaymentPage', 'AuditEventPage', 'DailyAuditReport']) {
      expect(document.components.schemas).toHaveProperty(name);
    }
    for (const status of [400, 401, 403, 404, 409, 422, 429, 500]) {
      expect(document.components.responses[`Error${status}`]).toMatchObject({ content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } } });
    }
    expect(document.components.responses.Error429).toMatchObject({ headers: { 'Retry-After': expect.any(Object) } });
    for (const operation of PUBLIC_OPERATIONS) {
      const responses = document.paths[operation.path]![operation.method]!.responses;
      expect(responses[String(operation.success.status)]?.content).toHaveProperty('application/json');
      for (const status of ['401', '429', '500']) expect(responses[status]).toEqual({ $ref: `#/components/responses/Error${status}` });
      if (operation.roles.length < 3) expect(responses['403']).toEqual({ $ref: '#/components/responses/Error403' });
    }
    expect(document.paths['/audit/reports/daily']!.get!.responses['200']!.content).toHaveProperty('text/csv');
  });
});

describe('request schemas in the document are the ones the services validate with', () => {
  let server: InProcessServer;
  let base: string;

  beforeAll(async () => {
    const app = express();
    app.use(express.json());
    app.use((req, res, next) => {
      res.locals.identity = { sub: 'tester', role: req.header('x-test-role') as Role };
      res.locals.requestId = 'openapi-test';
      next();
    });
    for (const router of Object.values(serviceRouters)) app.use('/api/v1', router);
    app.use(errorMapper(logger));
    server = await serveInProcess(app);
    base = `${server.url}/api/v1`;
  });

  afterAll(async () => {
    await server?.close();
  });

  /** Calls the service route behind a documented operation and returns every schema it validated with. */
  async function schemasValidatedBy(operation: PublicOperation): Promise<unknown[]> {
    validateSpy.mockClear();
    const role: Role = operation.roles.includes('admin') ? 'admin' : operation.roles[0]!;
    await fetch(`${base}${operation.path.replace('{id}', 'some-id')}`, {
      method: operation.method.toUpperCase(),
      headers: { 'x-test-role': role, 'content-type': 'application/json' },
      body: operation.method === 'get' ? undefined : '{}',
    });
    return validateSpy.mock.calls.map(([schema]) => schema);
  }

  it.each(PUBLIC_OPERATIONS.map((operation) => [`${operation.method.toUpperCase()} ${operation.path}`, operation] as const))(
    '%s: the same schema objects',
    async (_name, operation) => {
      const documented = [operation.request?.body, operation.request?.query, operation.request?.headers, operation.request?.params ? objectId : undefined].filter(Boolean);
      if (operation.request?.params) expect(operation.request.params.shape.id).toBe(objectId);
      const validated = await schemasValidatedBy(operation);
      // Identity, not likeness: each documented schema is the object the service validates with, and nothing else is validated.
      for (const schema of documented) expect(validated).toContain(schema);
      for (const schema of validated) expect(documented).toContain(schema);
    },
  );
});
