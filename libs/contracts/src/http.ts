import { z } from 'zod';
import { parseDecimalAmount } from '@pay/money';
import { auditAnchor, paymentMethod } from './events';
import { IDEMPOTENCY_KEY_HEADER } from './identity';

/**
 * Public HTTP bodies, queries and views (snake_case, money as "99.00"). Bodies are strict: unknown fields
 * (e.g. `status`, `user_id` smuggled into a create) are refused, not ignored. Every schema here is the
 * one object both the service validating it and the OpenAPI document of the API gateway use; the `id`
 * in `.meta()` names it in the document's components.
 */
/**
 * Client text that is stored: bounded and without U+0000 (PostgreSQL, under FerretDB, cannot store a NUL,
 * so it would fail the write as a 500 instead of a 400).
 */
export const storableText = (min: number, max: number) =>
  z
    .string()
    .min(min)
    .max(max)
    .refine((value) => !value.includes('\u0000'), 'must not contain NUL (U+0000) characters');

export const objectId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be an id')
  .meta({ description: 'An opaque id (letters, digits, _ and -; at most 64)', example: 'p_01HZX3K9T5' });

/** A money amount as the public API writes it: "99.00" (a number like 99.5 is accepted if exact). */
export const decimalAmount = z
  .union([z.string().max(20), z.number()])
  .transform((value, ctx) => {
    const minor = parseDecimalAmount(typeof value === 'number' ? String(value) : value);
    if (minor === null) {
      ctx.addIssue({ code: 'custom', message: 'must be a non-negative amount with at most two decimals, e.g. "99.00"' });
      return z.NEVER;
    }
    return minor;
  })
  .meta({ description: 'A non-negative decimal amount with at most two decimals (exact, never a float inside)', example: '99.00' });

const isoCurrency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code like CNY');

export const currencyCode = isoCurrency.default('CNY').meta({ description: 'ISO 4217 currency code', example: 'CNY' });

export const ORDER_STATUS_VALUES = ['pending_payment', 'paid', 'shipped', 'completed', 'cancelled', 'refunded', 'partially_refunded'] as const;
export const PAYMENT_STATUS_VALUES = ['init', 'processing', 'succeeded', 'failed', 'cancelled', 'expired'] as const;

/** A catalog product's id: short, and safe in a path (an admin may choose it, e.g. `p1`). */
export const productId = objectId;

/** An order line names a product and a quantity; name and price come from the catalog. */
export const orderItemInput = z
  .strictObject({
    product_id: productId,
    quantity: z.number().int().min(1).max(1000),
    unit_price: decimalAmount
      .optional()
      .meta({ description: "Optional: the price the client shows; it must be the catalog's (422 price_mismatch otherwise), never what is charged" }),
  })
  .meta({ id: 'OrderItemInput' });

export const createOrderBody = z
  .strictObject({
    items: z.array(orderItemInput).min(1).max(100),
    currency: isoCurrency
      .optional()
      .meta({ description: "Optional: the currency of the items' products (all items share one; 422 currency_mismatch otherwise)", example: 'CNY' }),
  })
  .meta({
    id: 'CreateOrderBody',
    description: 'Names and unit prices are copied from the catalog and the total is computed from them; status, user, total and names cannot be sent.',
  });
export type CreateOrderBody = z.infer<typeof createOrderBody>;

const productName = storableText(1, 200);

export const createProductBody = z
  .strictObject({
    id: productId.optional().meta({ description: 'Optional: a generated id otherwise; an id already taken is refused (409)' }),
    name: productName,
    unit_price: decimalAmount,
    currency: currencyCode,
    active: z.boolean().default(true),
  })
  .meta({ id: 'CreateProductBody', description: 'A catalog product (admin).' });
export type CreateProductBody = z.infer<typeof createProductBody>;

export const updateProductBody = z
  .strictObject({
    name: productName.optional(),
    unit_price: decimalAmount.optional(),
    active: z.boolean().optional(),
  })
  .refine((body) => body.name !== undefined || body.unit_price !== undefined || body.active !== undefined, 'at least one of name, unit_price, active')
  .meta({ id: 'UpdateProductBody', description: "Changes a product (admin); orders already placed keep the name and price they were placed at." });
export type UpdateProductBody = z.infer<typeof updateProductBody>;

/** Headers of a retry-safe create: other headers are not this schema's business (not strict). */
export const idempotentCreateHeaders = z
  .object({
    [IDEMPOTENCY_KEY_HEADER]: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{8,128}$/, 'must be 8-128 letters, digits or . _ : -')
      .optional()
      .meta({ description: 'Retry-safe create: a second request with the same key returns the first result (header Idempotent-Replayed: true) instead of creating again; the same key with a different body is refused (422).' }),
  });

export const createPaymentBody = z
  .strictObject({
    order_id: objectId,
    method: paymentMethod.default('wechat'),
    amount: decimalAmount.optional(),
  })
  .meta({ id: 'CreatePaymentBody', description: 'The amount is the order total; an amount that differs is refused (422).' });
export type CreatePaymentBody = z.infer<typeof createPaymentBody>;

export const cancelBody = z
  .strictObject({ reason: storableText(0, 200).optional() })
  .default({})
  .meta({ id: 'ReasonBody', description: 'An optional reason; no other field is accepted.' });
export const emptyBody = z.strictObject({}).default({}).meta({ id: 'EmptyBody', description: 'No field is accepted.' });

/** How the payer pays at the provider (the design's `channel`). */
export const PAY_CHANNELS = ['jsapi', 'native', 'alipay_jsapi', 'precreate', 'mock'] as const;
export const payChannel = z.enum(PAY_CHANNELS).meta({
  description: 'jsapi (WeChat mini-program, needs payer.openid), native (WeChat QR; default for wechat), alipay_jsapi (Alipay mini-program, needs payer.buyer_open_id), precreate (Alipay QR; default for alipay), mock (bank_card: the simulator cashier)',
});
const openId = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be 1-128 letters, digits, _ or -');
export const startPaymentBody = z
  .strictObject({
    channel: payChannel.optional(),
    payer: z.strictObject({ openid: openId.optional(), buyer_open_id: openId.optional() }).optional(),
  })
  .default({})
  .superRefine((body, ctx) => {
    if (body.channel === 'jsapi' && !body.payer?.openid) ctx.addIssue({ code: 'custom', path: ['payer', 'openid'], message: 'required for channel jsapi' });
    if (body.channel === 'alipay_jsapi' && !body.payer?.buyer_open_id) {
      ctx.addIssue({ code: 'custom', path: ['payer', 'buyer_open_id'], message: 'required for channel alipay_jsapi' });
    }
  })
  .meta({ id: 'StartPaymentBody', description: 'Optional: the channel (default per method) and the payer the channel needs.' });
export type StartPaymentBody = z.infer<typeof startPaymentBody>;

/** What the client app needs to open the provider's payment UI; one shape per channel. */
export const payParams = z
  .union([
    z.object({ appId: z.string(), timeStamp: z.string(), nonceStr: z.string(), package: z.string(), signType: z.literal('RSA'), paySign: z.string() }),
    z.object({ code_url: z.string() }),
    z.object({ trade_no: z.string() }),
    z.object({ qr_code: z.string() }),
    z.object({ cashier_url: z.string() }),
  ])
  .meta({ id: 'PayParams', description: 'jsapi: the arguments of wx.requestPayment; native: {code_url}; alipay_jsapi: {trade_no}; precreate: {qr_code}; mock: {cashier_url}' });

export const createRefundBody = z
  .strictObject({
    amount: decimalAmount.optional().meta({ description: 'Omitted: the rest of the refundable amount' }),
    reason: storableText(1, 200),
  })
  .meta({ id: 'CreateRefundBody', description: 'The sum of non-failed refunds never exceeds the paid amount (422 otherwise; nothing is sent to the provider).' });
export type CreateRefundBody = z.infer<typeof createRefundBody>;

export const REFUND_STATUS_VALUES = ['pending', 'succeeded', 'failed', 'needs_attention'] as const;

export const MAX_PAGE_SIZE = 100;
export const pageQuery = {
  page: z.coerce.number().int().min(1).max(100000).default(1),
  page_size: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(20),
};
export const listPaymentsQuery = z.strictObject({ order_id: objectId.optional(), ...pageQuery });
export const listRefundsQuery = z.strictObject({ ...pageQuery });
export const listProductsQuery = z.strictObject({
  include_inactive: z.enum(['true', 'false']).optional().meta({ description: 'Admin only: also list products that cannot be ordered' }),
  ...pageQuery,
});
export const listOrdersQuery = z.strictObject({
  status: z.enum(ORDER_STATUS_VALUES).optional(),
  ...pageQuery,
});

/** `{count, next, previous, results}` for every list endpoint. */
const pageEnvelope = z.object({
  count: z.number().int().min(0),
  next: z.string().nullable().meta({ description: 'Path and query of the next page, or null' }),
  previous: z.string().nullable().meta({ description: 'Path and query of the previous page, or null' }),
});
export type Page<T> = z.infer<typeof pageEnvelope> & { results: T[] };

/** The schema of a page of `item`, named `<id>` in the OpenAPI components. */
export function pageSchema<T extends z.ZodType>(item: T, id: string) {
  return pageEnvelope.extend({ results: z.array(item) }).meta({ id });
}

const timestamp = z.string().meta({ description: 'ISO 8601 UTC timestamp', example: '2024-05-01T08:30:00.000Z' });
const money = z.string().meta({ description: 'Decimal amount with two places', example: '99.00' });

export const orderItemView = z
  .object({
    product_id: z.string(),
    name: z.string(),
    unit_price: money,
    quantity: z.number().int(),
  })
  .meta({ id: 'OrderItemView' });
export type OrderItemView = z.infer<typeof orderItemView>;

export const productView = z
  .object({
    id: z.string(),
    name: z.string(),
    unit_price: money,
    currency: z.string(),
    active: z.boolean().meta({ description: 'Whether it can be ordered' }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'ProductView' });
export type ProductView = z.infer<typeof productView>;

export const orderView = z
  .object({
    id: z.string(),
    order_number: z.string().meta({ example: 'ORD-20240501-7KX2M9QD' }),
    user_id: z.string(),
    items: z.array(orderItemView),
    total_amount: money,
    currency: z.string(),
    status: z.string().meta({ description: `One of ${ORDER_STATUS_VALUES.join(', ')}`, example: 'pending_payment' }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'OrderView' });
export type OrderView = z.infer<typeof orderView>;

export const paymentLogView = z
  .object({
    at: timestamp,
    event: z.string(),
    from: z.string().nullable(),
    to: z.string(),
    actor: z.string().meta({
      description: 'Who acted, `<kind>:<id>` for admins and auditors; a customer sees the kind only (customer, admin, system, provider)',
      example: 'admin:ops-1',
    }),
    detail: z.string().nullable().meta({ description: 'Free text for admins and auditors; always null in a customer’s view' }),
  })
  .meta({ id: 'PaymentLogView' });
export type PaymentLogView = z.infer<typeof paymentLogView>;

export const paymentView = z
  .object({
    id: z.string(),
    order_id: z.string(),
    user_id: z.string(),
    amount: money,
    currency: z.string(),
    method: paymentMethod,
    status: z.string().meta({ description: `One of ${PAYMENT_STATUS_VALUES.join(', ')}`, example: 'init' }),
    created_at: timestamp,
    updated_at: timestamp,
    expires_at: timestamp,
    transaction_id: z.string().nullable(),
    late_success: z.boolean().meta({ description: 'The provider reported success after the payment expired (to be refunded)' }),
    provider: z.string().nullable().meta({ description: 'The provider the payment is opened at (wechatpay, alipay, mock), once started' }),
    channel: payChannel.nullable(),
    pay_params: payParams.nullable().meta({ description: 'Present once started: what the client opens the provider payment with' }),
    refunded_amount: money.meta({ description: 'Sum of the refunds not failed (pending ones included)' }),
    duplicate_transactions: z.array(z.string()).meta({ description: 'Transactions that paid this payment again after it succeeded (to refund)' }),
    logs: z.array(paymentLogView),
  })
  .meta({ id: 'PaymentView' });
export type PaymentView = z.infer<typeof paymentView>;

export const refundView = z
  .object({
    id: z.string().meta({ description: "Our refund id: the provider's out_refund_no / out_request_no, reused on every retry" }),
    payment_id: z.string(),
    order_id: z.string(),
    amount: money,
    currency: z.string(),
    reason: z.string(),
    status: z.string().meta({ description: `One of ${REFUND_STATUS_VALUES.join(', ')}`, example: 'pending' }),
    provider_refund_id: z.string().nullable(),
    created_at: timestamp,
    updated_at: timestamp,
    logs: z.array(paymentLogView),
  })
  .meta({ id: 'RefundView' });
export type RefundView = z.infer<typeof refundView>;

export const errorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ example: 'bad_request' }),
      message: z.string(),
      details: z.unknown().optional(),
      request_id: z.string().optional(),
    }),
  })
  .meta({ id: 'ErrorBody' });
export type ErrorBody = z.infer<typeof errorBody>;

// Audit (read-only, roles auditor and admin).

export const listAuditEventsQuery = z.strictObject({
  payment_id: objectId.optional(),
  order_id: objectId.optional(),
  action: z.string().regex(/^[a-z][a-z_]{0,63}$/, 'must be an action name like payment_succeeded').optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  ...pageQuery,
});

export const dailyReportQuery = z.strictObject({
  date: z.iso.date().optional(),
  format: z.enum(['json', 'csv']).default('json'),
});

/** One hash-chained audit record as the audit service shows it (documentation: described loosely). */
export const auditEventView = z
  .object({
    id: z.string(),
    seq: z.number().int(),
    action: z.string().meta({ example: 'payment_succeeded' }),
    event_type: z.string().meta({ example: 'payment.succeeded' }),
    occurred_at: timestamp,
    recorded_at: timestamp,
    day: z.string().meta({ example: '2024-05-01' }),
    payment_id: z.string().nullable(),
    order_id: z.string().nullable(),
    user_id: z.string().nullable(),
    amount_minor: z.number().int().nullable(),
    amount: z.string().nullable(),
    currency: z.string().nullable(),
    transaction_id: z.string().nullable(),
    provider: z.string().nullable(),
    reason: z.string().nullable(),
    error: z.string().nullable(),
    verify_ms: z.number().nullable(),
    correlation_id: z.string().meta({ description: 'The x-request-id of the request (or the event chain) that caused it' }),
    causation_id: z.string().nullable(),
    producer: z.string(),
    data: z.record(z.string(), z.unknown()),
    prev_hash: z.string(),
    hash: z.string(),
  })
  .meta({ id: 'AuditEventView' });
export type AuditEventView = z.infer<typeof auditEventView>;

/** `?full=true`: walk the whole chain, ignoring checkpoints (the deep check for compliance runs). */
export const auditVerifyQuery = z.strictObject({ full: z.enum(['true', 'false']).optional() });

export const auditVerifyResult = z
  .object({
    ok: z.boolean(),
    checked: z.number().int(),
    first_bad: z
      .object({ seq: z.number().int(), id: z.string().nullable(), problem: z.string(), detail: z.string() })
      .optional()
      .meta({ description: 'The first broken link (edited, missing, moved or cut-off record)' }),
    from_checkpoint: z
      .number()
      .int()
      .meta({ description: 'Seq of the signed checkpoint the walk started after; 0 for a walk of the whole chain (?full=true, or no trusted checkpoint)' }),
    checkpoints: z.number().int().meta({ description: 'Chain checkpoints stored, this verify\'s included' }),
    keyed: z.boolean().meta({ description: 'The chain, its head and its anchors are HMAC-keyed (AUDIT_CHAIN_KEY); false: plain SHA-256, which anyone with write access to the audit database can recompute' }),
    anchor: z
      .object({ seq: z.number().int(), anchored_at: z.string() })
      .nullable()
      .meta({ description: 'The latest anchor kept outside the audit database that this verify compared against; null: none yet' }),
    unanchored_records: z
      .number()
      .int()
      .meta({ description: 'Records past the anchor (head seq − anchor seq): these could still be cut off unnoticed until the next anchor' }),
  })
  .meta({ id: 'AuditVerifyResult' });
export type AuditVerifyResult = z.infer<typeof auditVerifyResult>;

/** The api-gateway hands the latest anchor (JSON of `auditAnchor`, see events.ts) to the audit-service's verify in this header. */
export const AUDIT_ANCHOR_HEADER = 'x-audit-anchor';

/** With the latest anchor, the anchors another one skipped (see `auditAnchor.prev`): in this header, a JSON array. */
export const AUDIT_SKIPPED_ANCHORS_HEADER = 'x-audit-skipped-anchors';
/** Most skipped anchors handed on (the highest seqs): they arise only from a cut chain anchored again, or rare races. */
export const MAX_SKIPPED_ANCHORS = 20;
export const skippedAuditAnchors = z.array(auditAnchor).max(MAX_SKIPPED_ANCHORS);

/** order-service `GET /api/v1/audit/anchors/latest` (internal: only the api-gateway calls it). */
export const latestAuditAnchorAnswer = z.object({ anchor: auditAnchor.nullable(), skipped: skippedAuditAnchors });
export type LatestAuditAnchorAnswer = z.infer<typeof latestAuditAnchorAnswer>;

/** `POST /audit/reports/rebuild` takes no parameters (an empty JSON object, or no body). */
export const auditRebuildBody = z.strictObject({});

/** `POST /audit/reports/rebuild` (admin): the report projections recomputed from the verified records. */
export const auditRebuildResult = z
  .object({
    rebuilt_up_to: z.number().int().meta({ description: 'Seq of the last record the rebuilt figures are computed from (the verified head)' }),
    days: z.number().int().meta({ description: 'Day figures rewritten' }),
    reconciliation_rows: z.number().int().meta({ description: 'Reconciliation rows rewritten' }),
  })
  .meta({ id: 'AuditRebuildResult' });
export type AuditRebuildResult = z.infer<typeof auditRebuildResult>;

const rate = z.number().nullable().meta({ description: 'A ratio in [0, 1] rounded to 6 places; null when undefined' });
const amountsByCurrency = z.record(z.string(), z.object({ amount_minor: z.number().int(), amount: money }));
const unmatchedPayment = z.object({
  payment_id: z.string(),
  order_id: z.string().nullable(),
  amount_minor: z.number().int().nullable(),
  amount: z.string().nullable(),
  currency: z.string().nullable(),
  transaction_id: z.string().nullable(),
  occurred_at: z.string().nullable(),
  refunded_minor: z.number().int().meta({ description: 'All refunds of the payment up to the end of the day' }),
  refunded: money,
  open_minor: z.number().int().meta({ description: 'What is still to go back under this heading' }),
  open: money,
});

export const dailyAuditReport = z
  .object({
    date: z.string().meta({ example: '2024-05-01' }),
    generated_at: timestamp,
    payments: z.object({
      created: z.number().int(),
      succeeded: z.number().int(),
      failed: z.number().int(),
      expired: z.number().int(),
      cancelled: z.number().int(),
      late_success: z.number().int(),
      duplicate_paid: z.number().int().meta({ description: 'Payments paid again under another transaction (money to send back)' }),
      success_rate: rate,
      timeout_rate: rate,
    }),
    callbacks: z.object({
      verified: z.number().int(),
      rejected: z.number().int(),
      signature_failures: z.number().int(),
      signature_failure_rate: rate,
      response_time_ms: z.object({ count: z.number().int(), p50: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable() }),
    }),
    refunds: z.object({ requested: z.number().int(), succeeded: z.number().int(), failed: z.number().int() }).meta({ description: 'Refunds asked for that day, and how those that ended that day ended' }),
    amounts: z
      .record(z.string(), amountsByCurrency)
      .meta({ description: 'By outcome (succeeded, failed, expired, cancelled, late_success, duplicate_paid, refunded), then currency' }),
    reconciliation: z.object({
      payments_succeeded_without_order_paid: z.array(unmatchedPayment),
      orders_paid_without_payment_succeeded: z.array(z.object({ order_id: z.string().nullable(), payment_id: z.string(), paid_at: z.string().nullable() })),
      late_successes: z.array(unmatchedPayment),
      duplicate_payments: z.array(
        unmatchedPayment.extend({ duplicate_count: z.number().int(), duplicate_minor: z.number().int(), duplicate_amount: money }),
      ).meta({ description: 'Money taken again under another transaction, not yet refunded in full' }),
      refunded_in_full: z
        .array(unmatchedPayment.extend({ causes: z.array(z.enum(['succeeded_without_order_paid', 'late_success', 'duplicate_payment'])) }))
        .meta({ description: 'Not a mismatch: payments whose money to go back was refunded in full that day' }),
    }),
    last_anchor: z
      .object({ seq: z.number().int(), hash: z.string(), anchored_at: z.string() })
      .nullable()
      .meta({ description: 'The last chain anchor the audit-service published: a printed report is itself an anchor (the chain must still reach seq with this hash)' }),
  })
  .meta({ id: 'DailyAuditReport' });
