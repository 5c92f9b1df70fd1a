import { AggregateRoot } from '@pay/aggregate';
import { PAYMENT_STATUS_VALUES, paymentMethod, type EventOrigin } from '@pay/contracts';
import type { PayChannel, PayParams } from '@pay/provider-clients';
import { defineStateMachine } from '@pay/state-machine';
import { paymentEvents } from './payment-events';
import {
  MAX_REFUNDS_PER_PAYMENT,
  committedMinor,
  refundIdFor,
  refundStateMachine,
  refundedMinor,
  type Refund,
  type RefundLogEntry,
  type RefundStatus,
} from './refund';
import { BusinessRuleViolation, NotFound } from '@pay/errors';

/**
 * The payment aggregate. Its state machine is the ONE transition table (the design's), used by every
 * move, by the refusal message, and walked cell by cell in the unit tests. "Where does a payment become
 * succeeded?": `PaymentAggregate.succeed`.
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
export type ProviderName = 'mock' | 'wechatpay' | 'alipay';

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

/** The order opened at the provider for this payment (our payment id is its out_trade_no). */
export interface ProviderOrder {
  provider: ProviderName;
  channel: PayChannel;
  payParams: PayParams;
  /** WeChat prepay_id, Alipay trade_no, when the provider gives one. */
  providerOrderId: string | null;
  openedAt: Date;
}

export interface DuplicateTransaction {
  transactionId: string;
  provider: ProviderName | null;
  amountMinor: number;
  at: Date;
}

/** A payment's state as stored and shown. */
export interface Payment {
  id: string;
  orderId: string;
  userId: string;
  amountMinor: number;
  currency: string;
  method: PaymentMethod;
  status: PaymentStatus;
  transactionId: string | null;
  provider: ProviderName | null;
  lateSuccess: boolean;
  /** Set by start: where the customer pays; starting again returns it instead of opening a second order. */
  providerOrder: ProviderOrder | null;
  /** When the provider is next asked about a processing payment whose notification has not come. */
  nextQueryAt: Date | null;
  /** Provider queries made so far (the back-off grows with it). */
  queryAttempts: number;
  /** Money going back, each refund with its own state (see refund.ts). */
  refunds: Refund[];
  /** Transactions that paid this payment again after it had succeeded: money to send back. */
  duplicateTransactions: DuplicateTransaction[];
  expiresAt: Date;
  createdAt: Date;
  updatedAt: Date;
  logs: PaymentLogEntry[];
}

export function logEntry(event: string, from: PaymentStatus | null, to: PaymentStatus, actor: string, detail: string | null = null, at = new Date()): PaymentLogEntry {
  return { at, event, from, to, actor, detail };
}

function refundLog(event: string, from: RefundStatus | null, to: RefundStatus, actor: string, detail: string | null, at: Date): RefundLogEntry {
  return { at, event, from, to, actor, detail };
}

export function isExpiredAt(payment: Pick<Payment, 'expiresAt'>, now: Date): boolean {
  return payment.expiresAt.getTime() <= now.getTime();
}

export interface OpenPaymentInput {
  id: string;
  order: { id: string; userId: string; amountMinor: number; currency: string };
  method: PaymentMethod;
  actor: string;
  ttlMinutes: number;
  origin: EventOrigin;
  now?: Date;
}

/** A provider's word that it took the money. */
export interface SuccessReport {
  transactionId: string | null;
  provider: ProviderName | null;
  /** Set when a provider notification proved it (emits payment.verified). */
  notificationId?: string;
  actor: string;
  origin: EventOrigin;
}

export type SuccessOutcome = 'succeeded' | 'already_succeeded' | 'late_success' | 'duplicate_paid';

export interface RefundRequest {
  /** null: the rest of the refundable amount. */
  amountMinor: number | null;
  reason: string;
  actor: string;
  idempotencyKey: string | null;
  /** What the request said (a replay with the same key must say the same). */
  requestFingerprint: string | null;
  origin: EventOrigin;
  now?: Date;
  /** When the provider is first asked about the refund if it has not answered by then. */
  firstQueryAt: Date;
}

/** What a provider said about a refund, as our states. */
export interface RefundWord {
  status: RefundStatus;
  providerRefundId: string | null;
  detail: string | null;
}
export type StartOutcome = 'started' | 'already_started';
export type FailureOutcome = 'failed' | 'already_closed';

export class PaymentAggregate extends AggregateRoot<Payment> {
  private constructor(state: Payment, version: number) {
    super(state, version);
  }

  /** A stored payment, at the version it was read. */
  static rehydrate(state: Payment, version: number): PaymentAggregate {
    return new PaymentAggregate(state, version);
  }

  /** The original `create_for_order`: amount = the order's total, expires_at = now + TTL, `payment.created`. */
  static open(input: OpenPaymentInput): PaymentAggregate {
    const now = input.now ?? new Date();
    const payment = new PaymentAggregate(
      {
        id: input.id,
        orderId: input.order.id,
        userId: input.order.userId,
        amountMinor: input.order.amountMinor,
        currency: input.order.currency,
        method: input.method,
        status: 'init',
        transactionId: null,
        provider: null,
        lateSuccess: false,
        providerOrder: null,
        nextQueryAt: null,
        queryAttempts: 0,
        refunds: [],
        duplicateTransactions: [],
        expiresAt: new Date(now.getTime() + input.ttlMinutes * 60_000),
        createdAt: now,
        updatedAt: now,
        logs: [logEntry('created', null, 'init', input.actor, `amount ${input.order.amountMinor} ${input.order.currency} via ${input.method}`, now)],
      },
      0,
    );
    payment.recordChange(paymentEvents.created(payment.current, input.origin));
    return payment;
  }


  get status(): PaymentStatus {
    return this.current.status;
  }

  /**
   * init → processing: the customer starts paying, at the provider order `opened` (null: no provider
   * involved, e.g. an admin driving a sandbox payment). Starting again while processing keeps the
   * order already opened, so the customer never gets a second one; a processing payment without one
   * (started before providers were called) gets the new one.
   */
  start(actor: string, origin: EventOrigin, opened: ProviderOrder | null = null, firstQueryAt: Date | null = null): StartOutcome {
    if (this.current.status === 'processing' && (this.current.providerOrder || !opened)) return 'already_started';
    if (this.current.status === 'processing' && opened) {
      this.current = { ...this.current, provider: opened.provider, providerOrder: opened, nextQueryAt: firstQueryAt };
      this.note('provider_order_opened', actor, `${opened.provider} ${opened.channel}`);
      return 'started';
    }
    this.moveTo('processing', 'started', actor, opened ? `${opened.provider} ${opened.channel}` : null, {
      ...(opened ? { provider: opened.provider, providerOrder: opened } : {}),
      nextQueryAt: firstQueryAt,
    });
    this.recordChange(paymentEvents.processing(this.current, origin));
    return 'started';
  }

  /**
   * The recovery job takes its turn to ask the provider: the next turn moves to `next`. Saved before
   * the provider is asked, so with several replicas only the one whose save wins asks.
   */
  takeQueryTurn(next: Date): void {
    this.current = { ...this.current, nextQueryAt: next, queryAttempts: this.current.queryAttempts + 1 };
    this.recordChange();
  }

  /** A notification from a provider other than the payment's: nothing moves, the log says so. */
  noteProviderMismatch(reported: string, expected: string, actor: string): void {
    this.note('provider_mismatch', actor, `notification from ${reported}, the payment is paid at ${expected}`);
  }

  /**
   * The original `process_payment_success`, in its order: already succeeded? no change, same answer →
   * closed (expired, cancelled, failed) or past its deadline? it stays closed, but money taken is never
   * ignored: flag `late_success` (once) and emit `payment.late_success` → otherwise succeeded, with the
   * transaction id, a log line and `payment.succeeded` (the order becomes paid through that event).
   */
  succeed(report: SuccessReport, now = new Date()): SuccessOutcome {
    if (this.current.status === 'succeeded' || this.current.lateSuccess) {
      // Paid again under another transaction: money taken twice is never ignored.
      if (report.provider && report.transactionId && this.current.transactionId && report.transactionId !== this.current.transactionId) {
        return this.flagDuplicate(report);
      }
      if (this.current.status === 'succeeded') return 'already_succeeded';
    }
    if (isTerminal(this.current.status) || isExpiredAt(this.current, now)) {
      this.flagLateSuccess(report);
      return 'late_success';
    }
    // A provider may confirm a payment whose start we never recorded: record the implied start too.
    if (this.current.status === 'init') {
      this.moveTo('processing', 'started', report.actor, 'implied by provider success');
      this.recordChange(paymentEvents.processing(this.current, report.origin));
    }
    this.moveTo('succeeded', 'succeeded', report.actor, report.transactionId ? `transaction ${report.transactionId}` : null, {
      transactionId: report.transactionId,
      provider: report.provider,
    });
    if (report.notificationId && report.provider && report.transactionId) {
      this.recordChange(paymentEvents.verified(this.current, report.provider, report.notificationId, report.transactionId, report.origin));
    }
    this.recordChange(paymentEvents.succeeded(this.current, report.actor, report.origin));
    return 'succeeded';
  }

  /** A second (third, …) success under another transaction id: recorded once per transaction, `payment.duplicate_paid`. */
  private flagDuplicate(report: SuccessReport): SuccessOutcome {
    const transactionId = report.transactionId!;
    if (this.current.duplicateTransactions.some((duplicate) => duplicate.transactionId === transactionId)) return 'already_succeeded';
    const status = this.current.status;
    const at = new Date();
    this.current = {
      ...this.current,
      duplicateTransactions: [...this.current.duplicateTransactions, { transactionId, provider: report.provider, amountMinor: this.current.amountMinor, at }],
      logs: [...this.current.logs, logEntry('duplicate_paid', status, status, report.actor, `paid again under transaction ${transactionId}`, at)],
      updatedAt: at,
    };
    this.recordChange(paymentEvents.duplicatePaid(this.current, transactionId, report.provider, report.origin));
    return 'duplicate_paid';
  }

  /** What may go back: the paid amount once the provider took it (succeeded or late), plus every duplicate. */
  refundableMinor(): number {
    const paid = this.current.status === 'succeeded' || this.current.lateSuccess ? this.current.amountMinor : 0;
    return paid + this.current.duplicateTransactions.reduce((sum, duplicate) => sum + duplicate.amountMinor, 0);
  }

  refund(refundId: string): Refund {
    const refund = this.current.refunds.find((candidate) => candidate.id === refundId);
    if (!refund) throw new NotFound(`refund ${refundId} not found`);
    return refund;
  }

  /**
   * A refund is asked for: checked against what is left in the same decision that records it, so the sum
   * of refunds not failed can never exceed what was paid (the versioned save makes it one atomic write:
   * a concurrent request re-decides on the new sum). A replay of the same Idempotency-Key answers the
   * refund it made; the same key with another body is refused.
   */
  requestRefund(request: RefundRequest): { refund: Refund; replayed: boolean } {
    if (request.idempotencyKey) {
      const earlier = this.current.refunds.find((refund) => refund.idempotencyKey === request.idempotencyKey);
      if (earlier) {
        if (earlier.requestFingerprint !== request.requestFingerprint) {
          throw new BusinessRuleViolation('this Idempotency-Key was used for another refund request', { refund_id: earlier.id }, 'idempotency_key_reused');
        }
        return { refund: earlier, replayed: true };
      }
    }
    const refundable = this.refundableMinor();
    if (refundable === 0) {
      throw new BusinessRuleViolation(`payment ${this.current.id} has taken no money to refund (status ${this.current.status})`, { status: this.current.status }, 'not_refundable');
    }
    const left = refundable - committedMinor(this.current.refunds);
    const amount = request.amountMinor ?? left;
    if (amount <= 0 || amount > left) {
      throw new BusinessRuleViolation(
        amount <= 0 ? 'nothing is left to refund' : `a refund of ${amount} exceeds what is left to refund (${left} of ${refundable})`,
        { requested_minor: amount, refundable_minor: left, paid_minor: refundable },
        'refund_exceeds_paid',
      );
    }
    if (this.current.refunds.length >= MAX_REFUNDS_PER_PAYMENT) {
      throw new BusinessRuleViolation(`a payment takes at most ${MAX_REFUNDS_PER_PAYMENT} refunds`, undefined, 'too_many_refunds');
    }
    const at = request.now ?? new Date();
    const refund: Refund = {
      id: refundIdFor(this.current.id, this.current.refunds.length + 1),
      amountMinor: amount,
      reason: request.reason,
      status: 'pending',
      providerRefundId: null,
      actor: request.actor,
      idempotencyKey: request.idempotencyKey,
      requestFingerprint: request.requestFingerprint,
      nextQueryAt: request.firstQueryAt,
      queryAttempts: 0,
      createdAt: at,
      updatedAt: at,
      logs: [refundLog('requested', null, 'pending', request.actor, request.reason, at)],
    };
    this.current = { ...this.current, refunds: [...this.current.refunds, refund], updatedAt: at };
    this.recordChange(paymentEvents.refundRequested(this.current, refund, request.origin));
    return { refund, replayed: false };
  }

  /**
   * What the provider said about a refund (its answer, a notification or a query), through the refund's
   * table: succeeded → `refund.succeeded` + `payment.refunded`; failed → `refund.failed` (the amount is
   * free again); needs_attention → logged for someone to act. A word that is no move (the same state, or
   * a final state) changes nothing. Returns whether the refund moved.
   */
  settleRefund(refundId: string, word: RefundWord, actor: string, origin: EventOrigin): boolean {
    const refund = this.refund(refundId);
    if (word.status === refund.status || !refundStateMachine.canTransition(refund.status, word.status)) return false;
    const at = new Date();
    const settled: Refund = {
      ...refund,
      status: word.status,
      providerRefundId: word.providerRefundId ?? refund.providerRefundId,
      nextQueryAt: word.status === 'succeeded' || word.status === 'failed' ? null : refund.nextQueryAt,
      updatedAt: at,
      logs: [...refund.logs, refundLog(word.status, refund.status, word.status, actor, word.detail, at)],
    };
    this.replaceRefund(settled, at);
    if (word.status === 'succeeded') {
      this.recordChange(paymentEvents.refundSucceeded(this.current, settled, origin));
      // Refunds go against duplicate charges first: what the order sees refunded is what exceeds them.
      const duplicates = this.current.duplicateTransactions.reduce((sum, duplicate) => sum + duplicate.amountMinor, 0);
      const ofPayment = Math.max(0, refundedMinor(this.current.refunds) - duplicates);
      this.recordChange(paymentEvents.refunded(this.current, settled, ofPayment, ofPayment >= this.current.amountMinor, actor, origin));
    } else if (word.status === 'failed') {
      this.recordChange(paymentEvents.refundFailed(this.current, settled, word.detail ?? 'refused by the provider', origin));
    }
    return true;
  }

  /** The refund job takes its turn to ask the provider about a refund (saved first: one replica asks). */
  takeRefundQueryTurn(refundId: string, next: Date): void {
    const refund = this.refund(refundId);
    this.replaceRefund({ ...refund, nextQueryAt: next, queryAttempts: refund.queryAttempts + 1 }, this.current.updatedAt);
  }

  private replaceRefund(refund: Refund, at: Date): void {
    this.current = { ...this.current, refunds: this.current.refunds.map((candidate) => (candidate.id === refund.id ? refund : candidate)), updatedAt: at };
    this.recordChange();
  }

  /**
   * Money taken for a payment that is closed. Flagged once: a repeated report (a provider retry, a
   * second replica) finds the flag and changes nothing, so `payment.late_success` leaves once and the
   * first transaction id is kept.
   */
  private flagLateSuccess(report: SuccessReport): void {
    if (this.current.lateSuccess) return;
    if (!isTerminal(this.current.status)) {
      // Still open but past its deadline: it expires now, and the success is late.
      this.moveTo('expired', 'expired', 'system:deadline', 'expired before the success arrived');
      this.recordChange(paymentEvents.expired(this.current, 'system:deadline', report.origin));
    }
    const status = this.current.status;
    this.current = {
      ...this.current,
      lateSuccess: true,
      transactionId: report.transactionId,
      provider: report.provider,
      logs: [...this.current.logs, logEntry('late_success', status, status, report.actor, `provider took the money after the payment was ${status}`)],
      updatedAt: new Date(),
    };
    this.recordChange(paymentEvents.lateSuccess(this.current, report.transactionId, report.provider, report.origin));
  }

  /**
   * processing → failed. A failure for a payment already closed changes no state (a late failure never
   * regresses a success) but is noted in its log.
   */
  fail(reason: string, actor: string, provider: ProviderName | null, origin: EventOrigin): FailureOutcome {
    if (isTerminal(this.current.status)) {
      this.note('failure_ignored', actor, `failure after ${this.current.status}: ${reason}`);
      return 'already_closed';
    }
    if (this.current.status === 'init') {
      // A provider can only fail a payment that was started; record the implied start.
      this.moveTo('processing', 'started', actor, 'implied by provider failure');
      this.recordChange(paymentEvents.processing(this.current, origin));
    }
    this.moveTo('failed', 'failed', actor, reason, { provider });
    this.recordChange(paymentEvents.failed(this.current, reason, actor, provider, origin));
    return 'failed';
  }

  /** init/processing → cancelled (the customer, an admin, or the order's cancellation). */
  cancel(reason: string, actor: string, origin: EventOrigin): void {
    this.moveTo('cancelled', 'cancelled', actor, reason);
    this.recordChange(paymentEvents.cancelled(this.current, reason, actor, origin));
  }

  /** init/processing → expired (the sweeper or an admin). */
  expire(actor: string, origin: EventOrigin): void {
    this.moveTo('expired', 'expired', actor);
    this.recordChange(paymentEvents.expired(this.current, actor, origin));
  }

  /** A provider reported another amount than ours: nothing moves, the payment's log says so. */
  noteAmountMismatch(reportedMinor: number, actor: string): void {
    this.note('amount_mismatch', actor, `provider reported ${reportedMinor}, expected ${this.current.amountMinor}`);
  }

  private note(event: string, actor: string, detail: string): void {
    const status = this.current.status;
    this.current = { ...this.current, logs: [...this.current.logs, logEntry(event, status, status, actor, detail)], updatedAt: new Date() };
    this.recordChange();
  }

  /** Every state move goes through here: the table refuses an illegal one, the log records a legal one. */
  private moveTo(
    to: PaymentStatus,
    event: string,
    actor: string,
    detail: string | null = null,
    set: Partial<Pick<Payment, 'transactionId' | 'provider' | 'providerOrder' | 'nextQueryAt'>> = {},
  ): void {
    const from = this.current.status;
    assertTransition(from, to);
    const at = new Date();
    this.current = { ...this.current, ...set, status: to, updatedAt: at, logs: [...this.current.logs, logEntry(event, from, to, actor, detail, at)] };
    this.recordChange();
  }
}
