import { PAYMENT_STATUS_VALUES, paymentMethod } from '@pay/contracts';
import { defineStateMachine } from '@pay/state-machine';

/**
 * The payment aggregate's state machine: the ONE transition table (the design's), used by every move,
 * by the refusal message, and walked cell by cell in the unit tests.
 */
export const PAYMENT_STATUSES = PAYMENT_STATUS_VALUES; // the contract's list: one literal for API and domain
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export const paymentStateMachine = defineStateMachine<PaymentStatus>('payment', {
  init: ['processing', 'cancelled', 'expired'],
  processing: ['succeeded', 'failed', 'cancelled', 'expired'],
  succeeded: [], // refund states come later
  failed: [],
  cancelled: [],
  expired: [],
});
export const PAYMENT_TRANSITIONS = paymentStateMachine.transitions;

/** An order has at most one payment in these states (the unique `live_key` index enforces it). */
export const LIVE_STATUSES: readonly PaymentStatus[] = ['init', 'processing', 'succeeded'];
/** States a payment can still move out of by itself (expiry, cancel). */
export const OPEN_STATUSES: readonly PaymentStatus[] = ['init', 'processing'];

export const PAYMENT_METHODS = paymentMethod.options;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];

export const { canTransition, assertTransition, isTerminal } = paymentStateMachine;

/**
 * Value of the uniquely indexed `live_key`: the order id while the payment is live, the payment's own id
 * once it is not. FerretDB has no partial indexes, so this is how "one live payment per order" is a
 * database-enforced rule rather than a read-then-write check.
 */
export function liveKeyFor(payment: { id: string; orderId: string }, status: PaymentStatus): string {
  return LIVE_STATUSES.includes(status) ? payment.orderId : `closed:${payment.id}`;
}

export interface PaymentLogEntry {
  at: Date;
  event: string;
  from: PaymentStatus | null;
  to: PaymentStatus;
  actor: string;
  detail: string | null;
}

export interface Payment {
  id: string;
  orderId: string;
  userId: string;
  amountMinor: number;
  currency: string;
  method: PaymentMethod;
  status: PaymentStatus;
  transactionId: string | null;
  provider: 'mock' | 'wechatpay' | 'alipay' | null;
  lateSuccess: boolean;
  expiresAt: Date;
  createdAt: Date;
  updatedAt: Date;
  logs: PaymentLogEntry[];
}

/** A move the aggregate decided: what to write, conditioned on the state it was decided from. */
export interface PaymentChange {
  from: PaymentStatus;
  to: PaymentStatus;
  set: Partial<Pick<Payment, 'transactionId' | 'provider' | 'lateSuccess'>>;
  logs: PaymentLogEntry[];
}

export function logEntry(event: string, from: PaymentStatus | null, to: PaymentStatus, actor: string, detail: string | null = null, at = new Date()): PaymentLogEntry {
  return { at, event, from, to, actor, detail };
}

/** A plain state move with its log line; refuses any move outside the table. */
export function move(payment: Payment, to: PaymentStatus, event: string, actor: string, detail: string | null = null): PaymentChange {
  assertTransition(payment.status, to);
  return { from: payment.status, to, set: {}, logs: [logEntry(event, payment.status, to, actor, detail)] };
}

export function isExpiredAt(payment: Pick<Payment, 'expiresAt'>, now: Date): boolean {
  return payment.expiresAt.getTime() <= now.getTime();
}
