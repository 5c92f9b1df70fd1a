import { OpenAPIRegistry, OpenApiGeneratorV3, extendZodWithOpenApi, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { REQUEST_ID_PATTERN } from '@pay/http';
import {
  REQUEST_ID_HEADER,
  auditEventView,
  auditRebuildBody,
  auditRebuildResult,
  auditVerifyQuery,
  auditVerifyResult,
  cancelBody,
  createOrderBody,
  createProductBody,
  idempotentCreateHeaders,
  listProductsQuery,
  productView,
  updateProductBody,
  createPaymentBody,
  dailyAuditReport,
  dailyReportQuery,
  emptyBody,
  startPaymentBody,
  createRefundBody,
  listRefundsQuery,
  refundView,
  errorBody,
  listAuditEventsQuery,
  listOrdersQuery,
  listPaymentsQuery,
  objectId,
  orderView,
  pageSchema,
  paymentView,
  type Role,
} from '@pay/contracts';

extendZodWithOpenApi(z);

/** Base path of the public API; the document's paths are relative to it (its `servers` entry). */
export const API_BASE = '/api/v1';
export const OPENAPI_PATH = `${API_BASE}/openapi.json`;

type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 503;

const ERROR_MEANINGS: Record<ErrorStatus, string> = {
  400: 'Bad input: a field is invalid or unknown (unknown fields are refused, not ignored), or a query holds an operator',
  401: 'No bearer token, or an invalid one (bad signature, wrong algorithm, expired, missing sub or role, unknown role)',
  403: 'The role may not do this',
  404: 'Not found; another customer’s order or payment is also "not found"',
  409: 'The state does not allow it (e.g. an illegal transition, or a live payment already exists for the order)',
  413: 'Request body too large',
  422: 'A business rule refused it (e.g. the amount differs from the order total, the order is not payable, or a price differs from the catalog)',
  429: 'Rate limited (per client IP and per user); retry after the seconds in Retry-After',
  503: 'A backing service is unavailable; retry later',
};

/**
 * One public operation of the API gateway. `request` holds the very schema objects the owning service
 * validates with (imported from @pay/contracts), so the document cannot drift from the validation.
 */
export interface PublicOperation {
  method: 'get' | 'post' | 'patch';
  /** OpenAPI path, relative to API_BASE, with `{id}` parameters. */
  path: string;
  operationId: string;
  summary: string;
  tag: 'orders' | 'catalog' | 'payments' | 'audit';
  roles: readonly Role[];
  request?: { params?: z.ZodObject; query?: z.ZodObject; body?: z.ZodType; headers?: z.ZodObject };
  success: { status: 200 | 201; description: string; schema: z.ZodType; csv?: boolean };
  errors: readonly ErrorStatus[];
}

/** Path parameter `id`: the very `objectId` schema the services validate ids with. */
const byId = z.object({ id: objectId });
const orderPage = pageSchema(orderView, 'OrderPage');
const productPage = pageSchema(productView, 'ProductPage');
const paymentPage = pageSchema(paymentView, 'PaymentPage');
const auditEventPage = pageSchema(auditEventView, 'AuditEventPage');
const refundPage = pageSchema(refundView, 'RefundPage');

const ALL_ROLES = ['customer', 'admin', 'auditor'] as const;
const WRITERS = ['customer', 'admin'] as const;
const AUDIT_ROLES = ['auditor', 'admin'] as const;
const READ = [400, 401, 403, 429, 503] as const;
const READ_ONE = [400, 401, 403, 404, 429, 503] as const;
const MOVE = [400, 401, 403, 404, 409, 413, 429, 503] as const;

/** Every public route of the design (`/api/v1/...`); the payments part mirrors the original `payment.ts`. */
export const PUBLIC_OPERATIONS: readonly PublicOperation[] = [
  {
    method: 'post', path: '/orders', operationId: 'createOrder', tag: 'orders', roles: ['customer'],
    summary: 'Place an order (customers); the total is computed from the items',
    request: { body: createOrderBody, headers: idempotentCreateHeaders },
    success: { status: 201, description: 'The order, pending payment (or, for a repeated Idempotency-Key, the order the first request made)', schema: orderView },
    errors: [400, 401, 403, 413, 422, 429, 503],
  },
  {
    method: 'get', path: '/orders', operationId: 'getOrders', tag: 'orders', roles: ALL_ROLES,
    summary: 'List orders (a customer sees only their own)',
    request: { query: listOrdersQuery },
    success: { status: 200, description: 'A page of orders', schema: orderPage },
    errors: READ,
  },
  {
    method: 'get', path: '/orders/{id}', operationId: 'getOrder', tag: 'orders', roles: ALL_ROLES,
    summary: 'One order',
    request: { params: byId },
    success: { status: 200, description: 'The order', schema: orderView },
    errors: READ_ONE,
  },
  {
    method: 'post', path: '/orders/{id}/cancel', operationId: 'cancelOrder', tag: 'orders', roles: WRITERS,
    summary: 'Cancel an order pending payment (its open payment is cancelled through order.cancelled)',
    request: { params: byId, body: cancelBody },
    success: { status: 200, description: 'The cancelled order', schema: orderView },
    errors: MOVE,
  },
  {
    method: 'get', path: '/products', operationId: 'listProducts', tag: 'catalog', roles: ALL_ROLES,
    summary: 'List the catalog by product id (active products; an admin may add include_inactive=true)',
    request: { query: listProductsQuery },
    success: { status: 200, description: 'A page of products', schema: productPage },
    errors: READ,
  },
  {
    method: 'post', path: '/products', operationId: 'createProduct', tag: 'catalog', roles: ['admin'],
    summary: 'Add a product to the catalog (admin)',
    request: { body: createProductBody },
    success: { status: 201, description: 'The product', schema: productView },
    errors: [400, 401, 403, 409, 413, 429, 503],
  },
  {
    method: 'patch', path: '/products/{id}', operationId: 'updateProduct', tag: 'catalog', roles: ['admin'],
    summary: "Change a product's name, price or whether it can be ordered (admin); orders already placed keep theirs",
    request: { params: byId, body: updateProductBody },
    success: { status: 200, description: 'The product', schema: productView },
    errors: MOVE,
  },
  {
    method: 'get', path: '/payments', operationId: 'getPayments', tag: 'payments', roles: ALL_ROLES,
    summary: 'getPayments({order_id?, page?, page_size?}) (a customer sees only their own)',
    request: { query: listPaymentsQuery },
    success: { status: 200, description: 'A page of payments', schema: paymentPage },
    errors: READ,
  },
  {
    method: 'post', path: '/payments', operationId: 'createPayment', tag: 'payments', roles: WRITERS,
    summary: 'createPayment({order_id, method?, amount?}): at most one live payment per order',
    request: { body: createPaymentBody },
    success: { status: 201, description: 'The payment, in state init', schema: paymentView },
    errors: [400, 401, 403, 404, 409, 413, 422, 429, 503],
  },
  {
    method: 'get', path: '/payments/{id}', operationId: 'getPaymentDetail', tag: 'payments', roles: ALL_ROLES,
    summary: 'getPaymentDetail(id), with its log',
    request: { params: byId },
    success: { status: 200, description: 'The payment', schema: paymentView },
    errors: READ_ONE,
  },
  {
    method: 'post', path: '/payments/{id}/start', operationId: 'startPayment', tag: 'payments', roles: WRITERS,
    summary: 'startPayment(id): opens the payment at its provider (init → processing) and answers its pay_params; again while processing: the same provider order',
    request: { params: byId, body: startPaymentBody },
    success: { status: 200, description: 'The payment, processing', schema: paymentView },
    errors: MOVE,
  },
  {
    method: 'post', path: '/payments/{id}/succeed', operationId: 'succeedPayment', tag: 'payments', roles: WRITERS,
    summary: 'succeedPayment(id): admin, or a customer in sandbox mode only (idempotent)',
    request: { params: byId, body: emptyBody },
    success: { status: 200, description: 'The payment, succeeded', schema: paymentView },
    errors: MOVE,
  },
  {
    method: 'post', path: '/payments/{id}/fail', operationId: 'failPayment', tag: 'payments', roles: WRITERS,
    summary: 'failPayment(id): admin, or a customer in sandbox mode only',
    request: { params: byId, body: cancelBody },
    success: { status: 200, description: 'The payment, failed', schema: paymentView },
    errors: MOVE,
  },
  {
    method: 'post', path: '/payments/{id}/cancel', operationId: 'cancelPayment', tag: 'payments', roles: WRITERS,
    summary: 'cancelPayment(id): from init or processing',
    request: { params: byId, body: cancelBody },
    success: { status: 200, description: 'The payment, cancelled', schema: paymentView },
    errors: MOVE,
  },
  {
    method: 'post', path: '/payments/{id}/expire', operationId: 'expirePayment', tag: 'payments', roles: ['admin'],
    summary: 'expirePayment(id): admin only (the sweeper does this when expires_at passes)',
    request: { params: byId, body: emptyBody },
    success: { status: 200, description: 'The payment, expired', schema: paymentView },
    errors: MOVE,
  },
  {
    method: 'post', path: '/payments/{id}/refunds', operationId: 'createRefund', tag: 'payments', roles: ['admin'],
    summary: 'createRefund(id, {amount?, reason}): admin only; no amount = the rest; sent to the provider with our refund id (the same on every retry)',
    request: { params: byId, body: createRefundBody, headers: idempotentCreateHeaders },
    success: { status: 201, description: 'The refund (pending until the provider settles it), or for a repeated Idempotency-Key the refund the first request made', schema: refundView },
    errors: [400, 401, 403, 404, 409, 413, 422, 429, 503],
  },
  {
    method: 'get', path: '/payments/{id}/refunds', operationId: 'getRefunds', tag: 'payments', roles: ALL_ROLES,
    summary: "getRefunds(id): the payment's refunds (a customer sees only their own payments')",
    request: { params: byId, query: listRefundsQuery },
    success: { status: 200, description: 'A page of refunds', schema: refundPage },
    errors: READ_ONE,
  },
  {
    method: 'get', path: '/refunds/{id}', operationId: 'getRefund', tag: 'payments', roles: ALL_ROLES,
    summary: 'getRefund(id): one refund',
    request: { params: byId },
    success: { status: 200, description: 'The refund, with its log', schema: refundView },
    errors: READ_ONE,
  },
  {
    method: 'get', path: '/audit/events', operationId: 'getAuditEvents', tag: 'audit', roles: AUDIT_ROLES,
    summary: 'Audit records (append-only, hash-chained), filtered by payment, order, action or time',
    request: { query: listAuditEventsQuery },
    success: { status: 200, description: 'A page of audit records', schema: auditEventPage },
    errors: READ,
  },
  {
    method: 'get', path: '/audit/verify', operationId: 'verifyAudit', tag: 'audit', roles: AUDIT_ROLES,
    summary:
      'Verify the hash chain from its last signed checkpoint (or, with full=true, from the start) and against the latest anchor kept outside the audit database: detects any edited, deleted or moved record, and a tail cut below the anchor',
    request: { query: auditVerifyQuery },
    success: { status: 200, description: 'The verification result', schema: auditVerifyResult },
    errors: [401, 403, 429, 503],
  },
  {
    method: 'get', path: '/audit/reports/daily', operationId: 'getDailyReport', tag: 'audit', roles: AUDIT_ROLES,
    summary: 'Daily compliance report (UTC day, default today): success, timeout and signature-failure rates, callback times, amounts, reconciliation',
    request: { query: dailyReportQuery },
    success: { status: 200, description: 'The report as JSON, or as `metric,value` CSV rows with format=csv', schema: dailyAuditReport, csv: true },
    errors: READ,
  },
  {
    // Beyond the design's audit listing (issue 13): the figures are a projection outside the hash chain.
    method: 'post', path: '/audit/reports/rebuild', operationId: 'rebuildAuditReports', tag: 'audit', roles: ['admin'],
    summary: 'Recompute the daily figures and reconciliation from the records; refused (409 chain_not_verified) unless the whole chain verifies and reaches the latest anchor',
    request: { body: auditRebuildBody },
    success: { status: 200, description: 'What was rebuilt, up to which verified record', schema: auditRebuildResult },
    errors: [400, 401, 403, 409, 429, 503],
  },
];

const requestIdHeader = z.object({
  [REQUEST_ID_HEADER]: z
    .string()
    .regex(REQUEST_ID_PATTERN)
    .optional()
    .openapi({ description: 'Your request id; echoed back and used as the correlation_id of the events the request causes (generated when absent or malformed)' }),
});
const REQUEST_ID_RESPONSE_HEADER = { schema: { type: 'string' as const }, description: 'The request id (yours, or a generated one)' };

/** Error answers are shared components: `#/components/responses/Error<status>`, all with the one error body. */
const errorResponseRef = (status: ErrorStatus | 500) => ({ $ref: `#/components/responses/Error${status}` });

function registerErrorResponses(registry: OpenAPIRegistry): void {
  const errorSchema = { $ref: '#/components/schemas/ErrorBody' };
  const statuses = [...(Object.keys(ERROR_MEANINGS).map(Number) as ErrorStatus[]), 500 as const];
  for (const status of statuses) {
    registry.registerComponent('responses', `Error${status}`, {
      description: status === 500 ? 'Unexpected error; the body names the request id, never internals' : ERROR_MEANINGS[status],
      headers: {
        [REQUEST_ID_HEADER]: REQUEST_ID_RESPONSE_HEADER,
        ...(status === 429 ? { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds to wait before retrying' } } : {}),
      },
      content: { 'application/json': { schema: errorSchema } },
    });
  }
}

function routeOf(operation: PublicOperation): RouteConfig {
  const { request, success } = operation;
  const content: Record<string, { schema: z.ZodType }> = { 'application/json': { schema: success.schema } };
  if (success.csv) content['text/csv'] = { schema: z.string() };
  return {
    method: operation.method,
    path: operation.path,
    operationId: operation.operationId,
    summary: operation.summary,
    description: `Roles: ${operation.roles.join(', ')}.`,
    tags: [operation.tag],
    security: [{ bearerAuth: [] }],
    request: {
      headers: request?.headers ? requestIdHeader.extend(request.headers.shape) : requestIdHeader,
      ...(request?.params ? { params: request.params } : {}),
      ...(request?.query ? { query: request.query } : {}),
      // A body whose schema has a default ({}) may be left out.
      ...(request?.body ? { body: { required: !request.body.safeParse(undefined).success, content: { 'application/json': { schema: request.body } } } } : {}),
    },
    responses: {
      [success.status]: { description: success.description, headers: { [REQUEST_ID_HEADER]: REQUEST_ID_RESPONSE_HEADER }, content },
      ...Object.fromEntries(operation.errors.map((status) => [status, errorResponseRef(status)])),
      500: errorResponseRef(500),
    },
  };
}

/** The registry of every public operation, the bearer scheme, and the document itself (public). */
export function buildOpenApiRegistry(operations: readonly PublicOperation[] = PUBLIC_OPERATIONS): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'A JWT with claims sub (user id) and role (customer, admin, auditor); the algorithm is pinned by the gateway (HS256 or RS256)',
  });
  registerErrorResponses(registry);
  for (const operation of operations) registry.registerPath(routeOf(operation));
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApiDocument',
    summary: 'This document (no authentication)',
    tags: ['meta'],
    security: [],
    responses: { 200: { description: 'The OpenAPI 3 document', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } } },
  });
  return registry;
}

let cached: ReturnType<OpenApiGeneratorV3['generateDocument']> | undefined;

/** The OpenAPI 3.0 document of the public API, generated once from the zod contracts. */
export function openApiDocument() {
  if (cached) return cached;
  // ErrorBody is named by its own `.meta({ id })`; the shared error responses refer to it by $ref.
  const definitions: OpenAPIRegistry['definitions'] = [...buildOpenApiRegistry().definitions, { type: 'schema', schema: errorBody }];
  cached = new OpenApiGeneratorV3(definitions).generateDocument({
    openapi: '3.0.3',
    info: {
      title: 'Payments platform public API',
      version: '1.0.0',
      description:
        'Orders and payments for the mini-program frontend (the payments calls mirror the original payment.ts), and read-only audit for auditors. ' +
        'Money is a decimal string with two places ("99.00") plus currency. Errors are {"error": {"code", "message", "details"?, "request_id"?}}. ' +
        'A customer sees and acts on only their own orders and payments.',
    },
    servers: [{ url: API_BASE }],
    security: [{ bearerAuth: [] }],
    tags: [
      { name: 'orders', description: 'Orders and their state machine' },
      { name: 'catalog', description: 'Products and their prices (orders copy them when placed)' },
      { name: 'payments', description: 'Payments (the original frontend payment.ts API)' },
      { name: 'audit', description: 'Audit records and compliance reports (auditor, admin)' },
      { name: 'meta', description: 'The API description' },
    ],
  });
  return cached;
}
