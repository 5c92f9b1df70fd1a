import { z } from 'zod';
import { parseDecimalAmount } from '@pay/money';
import { paymentMethod } from './events';

/**
 * Public HTTP bodies and views (snake_case, money as "99.00"). Bodies are strict: unknown fields
 * (e.g. `status`, `user_id` smuggled into a create) are refused, not ignored.
 */
export const objectId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be an id');

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
  });

export const currencyCode = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code like CNY').default('CNY');

export const orderItemInput = z.strictObject({
  product_id: z.string().min(1).max(64),
  name: z.string().min(1).max(200),
  unit_price: decimalAmount,
  quantity: z.number().int().min(1).max(1000),
});

export const createOrderBody = z.strictObject({
  items: z.array(orderItemInput).min(1).max(100),
  currency: currencyCode,
});
export type CreateOrderBody = z.infer<typeof createOrderBody>;

export const createPaymentBody = z.strictObject({
  order_id: objectId,
  method: paymentMethod.default('wechat'),
  amount: decimalAmount.optional(),
});
export type CreatePaymentBody = z.infer<typeof createPaymentBody>;

export const cancelBody = z.strictObject({ reason: z.string().max(200).optional() }).default({});
export const emptyBody = z.strictObject({}).default({});

export const MAX_PAGE_SIZE = 100;
export const pageQuery = {
  page: z.coerce.number().int().min(1).max(100000).default(1),
  page_size: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(20),
};
export const listPaymentsQuery = z.strictObject({ order_id: objectId.optional(), ...pageQuery });
export const listOrdersQuery = z.strictObject({
  status: z.enum(['pending_payment', 'paid', 'shipped', 'completed', 'cancelled', 'refunded', 'partially_refunded']).optional(),
  ...pageQuery,
});

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

export interface OrderItemView {
  product_id: string;
  name: string;
  unit_price: string;
  quantity: number;
}

export interface OrderView {
  id: string;
  order_number: string;
  user_id: string;
  items: OrderItemView[];
  total_amount: string;
  currency: string;
  status: string;
  created_at: string;
  updated_at: string;
}

export interface PaymentLogView {
  at: string;
  event: string;
  from: string | null;
  to: string;
  actor: string;
  detail: string | null;
}

export interface PaymentView {
  id: string;
  order_id: string;
  user_id: string;
  amount: string;
  currency: string;
  method: 'wechat' | 'alipay' | 'bank_card';
  status: string;
  created_at: string;
  updated_at: string;
  expires_at: string;
  transaction_id: string | null;
  late_success: boolean;
  logs: PaymentLogView[];
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown; request_id?: string };
}
