import type { z } from 'zod';
import { IDEMPOTENCY_KEY_HEADER } from '@pay/contracts';
import type { AuditEventView, AuditRebuildResult, AuditVerifyResult, createOrderBody, createPaymentBody, createProductBody, createRefundBody, ErrorBody, RefundView, startPaymentBody, OrderView, Page, PaymentView, ProductView, updateProductBody } from '@pay/contracts';

/**
 * Typed client of the public API, mirroring the original frontend `payment.ts` (same function names and
 * arguments) plus orders and audit. Types come from @pay/contracts, the same place the services use.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody | string,
  ) {
    super(`HTTP ${status}: ${typeof body === 'string' ? body : `${body.error.code}: ${body.error.message}`}`);
    this.name = 'ApiError';
  }

  get code(): string | undefined {
    return typeof this.body === 'string' ? undefined : this.body.error.code;
  }
}

export interface ClientOptions {
  baseUrl: string; // e.g. http://127.0.0.1:8080/api/v1
  token: string;
}

export interface PaymentListParams {
  order_id?: string;
  page?: number;
  page_size?: number;
}

/**
 * `{order_id, method?, amount?}`; amount is "99.00" and must equal the order total if given. Request types
 * are the input side of the very schemas the services validate with, so they cannot drift apart.
 */
export type CreatePaymentParams = z.input<typeof createPaymentBody>;
export type StartPaymentParams = z.input<typeof startPaymentBody>;
export type CreateRefundParams = z.input<typeof createRefundBody>;

/**
 * `{items: [{product_id, quantity, unit_price?: "49.50"}], currency?}`: name and price come from the catalog
 * (a unit_price sent must be the catalog's); the total is computed by the server.
 */
export type CreateOrderParams = z.input<typeof createOrderBody>;
/** `{id?, name, unit_price: "49.50", currency?, active?}` (admin). */
export type CreateProductParams = z.input<typeof createProductBody>;
/** `{name?, unit_price?, active?}`, at least one (admin). */
export type UpdateProductParams = z.input<typeof updateProductBody>;

export interface AuditEventParams {
  payment_id?: string;
  order_id?: string;
  action?: string;
  from?: string;
  to?: string;
  page?: number;
  page_size?: number;
}

export function createClient({ baseUrl, token }: ClientOptions) {
  async function call<T>(method: string, path: string, body?: unknown, query?: object, extraHeaders: Record<string, string> = {}): Promise<T> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) params.set(key, String(value));
    const url = `${baseUrl}${path}${params.size ? `?${params.toString()}` : ''}`;
    const response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...extraHeaders },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    const contentType = response.headers.get('content-type') ?? '';
    const parsed: unknown = contentType.includes('json') && text ? JSON.parse(text) : text;
    if (!response.ok) throw new ApiError(response.status, parsed as ErrorBody | string);
    return parsed as T;
  }
  const id = (value: string) => encodeURIComponent(value);
  const reasonBody = (reason?: string) => (reason === undefined ? {} : { reason });
  const base = new URL(baseUrl);

  /**
   * Follows a list's `next`/`previous` link (a path such as `/api/v1/payments?page=2`). Only links under
   * this client's base URL are followed, so the bearer token never goes anywhere else.
   */
  async function getPage<T>(link: string): Promise<Page<T>> {
    const target = new URL(link, base);
    const prefix = base.pathname.replace(/\/$/, '');
    if (target.origin !== base.origin || !target.pathname.startsWith(`${prefix}/`)) throw new Error(`refusing to follow a link outside ${baseUrl}: ${link}`);
    return call<Page<T>>('GET', target.pathname.slice(prefix.length), undefined, Object.fromEntries(target.searchParams));
  }

  return {
    // payment.ts
    getPayments: (params: PaymentListParams = {}) => call<Page<PaymentView>>('GET', '/payments', undefined, params),
    createPayment: (params: CreatePaymentParams) => call<PaymentView>('POST', '/payments', params),
    getPaymentsPage: (link: string) => getPage<PaymentView>(link),
    getPaymentDetail: (paymentId: string) => call<PaymentView>('GET', `/payments/${id(paymentId)}`),
    startPayment: (paymentId: string, params: StartPaymentParams = {}) => call<PaymentView>('POST', `/payments/${id(paymentId)}/start`, params),
    succeedPayment: (paymentId: string) => call<PaymentView>('POST', `/payments/${id(paymentId)}/succeed`, {}),
    failPayment: (paymentId: string, reason?: string) => call<PaymentView>('POST', `/payments/${id(paymentId)}/fail`, reasonBody(reason)),
    cancelPayment: (paymentId: string, reason?: string) => call<PaymentView>('POST', `/payments/${id(paymentId)}/cancel`, reasonBody(reason)),
    expirePayment: (paymentId: string) => call<PaymentView>('POST', `/payments/${id(paymentId)}/expire`, {}),
    // refunds (admin creates; the Idempotency-Key makes a retried create answer the first refund)
    createRefund: (paymentId: string, params: CreateRefundParams, idempotencyKey?: string) =>
      call<RefundView>('POST', `/payments/${id(paymentId)}/refunds`, params, undefined, idempotencyKey ? { [IDEMPOTENCY_KEY_HEADER]: idempotencyKey } : {}),
    getRefunds: (paymentId: string, params: { page?: number; page_size?: number } = {}) => call<Page<RefundView>>('GET', `/payments/${id(paymentId)}/refunds`, undefined, params),
    getRefund: (refundId: string) => call<RefundView>('GET', `/refunds/${id(refundId)}`),
    // orders
    // The Idempotency-Key makes a retried create answer the first order (the same key with another request: 422).
    createOrder: (params: CreateOrderParams, idempotencyKey?: string) =>
      call<OrderView>('POST', '/orders', params, undefined, idempotencyKey ? { [IDEMPOTENCY_KEY_HEADER]: idempotencyKey } : {}),
    getOrders: (params: { status?: string; page?: number; page_size?: number } = {}) => call<Page<OrderView>>('GET', '/orders', undefined, params),
    getOrdersPage: (link: string) => getPage<OrderView>(link),
    getOrder: (orderId: string) => call<OrderView>('GET', `/orders/${id(orderId)}`),
    cancelOrder: (orderId: string, reason?: string) => call<OrderView>('POST', `/orders/${id(orderId)}/cancel`, reasonBody(reason)),
    // catalog (anyone signed in reads; admins write; include_inactive is for admins)
    listProducts: (params: { include_inactive?: boolean; page?: number; page_size?: number } = {}) => call<Page<ProductView>>('GET', '/products', undefined, params),
    createProduct: (params: CreateProductParams) => call<ProductView>('POST', '/products', params),
    updateProduct: (productId: string, params: UpdateProductParams) => call<ProductView>('PATCH', `/products/${id(productId)}`, params),
    // audit (auditor/admin)
    getAuditEvents: (params: AuditEventParams = {}) => call<Page<AuditEventView>>('GET', '/audit/events', undefined, params),
    verifyAudit: (query: { full?: boolean } = {}) => call<AuditVerifyResult>('GET', `/audit/verify${query.full ? '?full=true' : ''}`),
    getDailyReport: (date: string) => call<Record<string, unknown>>('GET', '/audit/reports/daily', undefined, { date, format: 'json' }),
    getDailyReportCsv: (date: string) => call<string>('GET', '/audit/reports/daily', undefined, { date, format: 'csv' }),
    // admin: recompute the report figures from the verified chain (409 chain_not_verified otherwise)
    rebuildAuditReports: () => call<AuditRebuildResult>('POST', '/audit/reports/rebuild', {}),
  };
}

export type ApiClient = ReturnType<typeof createClient>;
