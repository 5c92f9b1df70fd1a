import { REFUND_STATUS_VALUES } from '@pay/contracts';
import { defineStateMachine } from '@pay/state-machine';

/**
 * A refund: money going back for one payment. It lives inside the payment's document (the payment is
 * the aggregate root), because the rule that matters — the sum of refunds not failed never exceeds
 * what was paid — spans all refunds of a payment and must hold in one atomic write. Its own state
 * machine is the design's; every move goes through PaymentAggregate's refund methods.
 */
export const REFUND_STATUSES = REFUND_STATUS_VALUES;
export type RefundStatus = (typeof REFUND_STATUSES)[number];

export const refundStateMachine = defineStateMachine<RefundStatus>('refund', {
  // The provider accepted it (or we do not know yet): it says later how it ended.
  pending: ['succeeded', 'failed', 'needs_attention'],
  // WeChat's ABNORMAL is not final: after someone acts at the provider, it succeeds or closes.
  needs_attention: ['succeeded', 'failed'],
  succeeded: [],
  failed: [],
});
export const REFUND_TRANSITIONS = refundStateMachine.transitions;

export interface RefundLogEntry {
  at: Date;
  event: string;
  from: RefundStatus | null;
  to: RefundStatus;
  actor: string;
  detail: string | null;
}

export interface Refund {
  /** Our refund id, also the provider's out_refund_no / out_request_no: `<payment id>r<NN>`. */
  id: string;
  amountMinor: number;
  reason: string;
  status: RefundStatus;
  providerRefundId: string | null;
  /** Who asked (e.g. `admin:ops`). */
  actor: string;
  /** The Idempotency-Key of the create request and the body it came with (replays answer this refund). */
  idempotencyKey: string | null;
  requestFingerprint: string | null;
  /** When the provider is next asked about it (pending or needs_attention), else null. */
  nextQueryAt: Date | null;
  queryAttempts: number;
  createdAt: Date;
  updatedAt: Date;
  logs: RefundLogEntry[];
}

/** WeChat Pay refuses the 51st partial refund of one order. */
export const MAX_REFUNDS_PER_PAYMENT = 50;

/** `<payment id>r01` … `r50`: unique, at most 64 characters (both providers' limit), and it names its payment. */
export function refundIdFor(paymentId: string, sequence: number): string {
  return `${paymentId}r${String(sequence).padStart(2, '0')}`;
}

/** The payment a refund id belongs to (null for anything that is not a refund id). */
export function paymentIdOfRefund(refundId: string): string | null {
  const match = /^([A-Za-z0-9_-]{1,60})r(\d{2})$/.exec(refundId);
  return match ? match[1]! : null;
}

/** Money that counts against the paid amount: every refund not failed (pending ones may still pay out). */
export function committedMinor(refunds: readonly Refund[]): number {
  return refunds.filter((refund) => refund.status !== 'failed').reduce((sum, refund) => sum + refund.amountMinor, 0);
}

export function refundedMinor(refunds: readonly Refund[]): number {
  return refunds.filter((refund) => refund.status === 'succeeded').reduce((sum, refund) => sum + refund.amountMinor, 0);
}
