/**
 * What must hold after a chaos run, once the system has settled. Each check returns its violations
 * (empty = held); the run fails on any. The expectations come from the plan (the story of each payment),
 * the provider simulator's own ledger, the events seen on the bus and the audit log.
 */
import type { ApiClient } from '@pay/client';
import type { OrderView, PaymentView, RefundView } from '@pay/contracts';
import { parseDecimalAmount } from '@pay/money';
import type { DrivenPayment } from './driver';
import type { Story } from './plan';

export interface Violation {
  check: string;
  detail: string;
}

export interface FinalState {
  driven: DrivenPayment;
  payment: PaymentView | null;
  order: OrderView | null;
  refunds: RefundView[];
  /** The simulator's ledger entry for the payment (its `state` and `refunds`), null if it has none. */
  atProvider: { state: string; amount: number; opened: boolean; refunds: { status: string; amount: number }[] } | null;
}

const PAYMENT_STATUS: Record<Story, string> = {
  paid: 'succeeded',
  paid_silent: 'succeeded',
  paid_replay: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
  refunded: 'succeeded',
  duplicate: 'succeeded',
};
const ORDER_STATUS: Record<Story, string> = {
  paid: 'paid',
  paid_silent: 'paid',
  paid_replay: 'paid',
  failed: 'pending_payment',
  cancelled: 'pending_payment',
  refunded: 'refunded',
  duplicate: 'paid',
};
const PROVIDER_STATE: Record<Story, string> = {
  paid: 'paid',
  paid_silent: 'paid',
  paid_replay: 'paid',
  failed: 'failed',
  cancelled: 'closed',
  refunded: 'paid',
  duplicate: 'paid',
};

const minor = (text: string) => parseDecimalAmount(text) ?? Number.NaN;

/** Is this payment where its story ends (so waiting longer changes nothing)? */
export function settled(state: FinalState): boolean {
  const { payment, order, refunds, driven } = state;
  if (!payment || !order) return false;
  if (payment.status !== PAYMENT_STATUS[driven.plan.story] || order.status !== ORDER_STATUS[driven.plan.story]) return false;
  return refunds.every((refund) => refund.status === 'succeeded' || refund.status === 'failed');
}

/** The story's outcome: states, refunds, and agreement with the provider's ledger. */
export function checkOutcomes(states: FinalState[]): Violation[] {
  const violations: Violation[] = [];
  for (const { driven, payment, order, refunds, atProvider } of states) {
    const story = driven.plan.story;
    const who = `payment #${driven.plan.index} (${story}, ${driven.plan.method}, ${driven.paymentId ?? 'not created'})`;
    if (driven.stuckAt) violations.push({ check: 'every call answered', detail: `${who}: ${driven.stuckAt}` });
    if (!payment || !order) {
      if (!driven.stuckAt) violations.push({ check: 'every payment final', detail: `${who}: payment or order not found` });
      continue;
    }
    if (payment.status !== PAYMENT_STATUS[story]) {
      violations.push({ check: 'every payment final, as its story ends', detail: `${who}: status ${payment.status}, expected ${PAYMENT_STATUS[story]}` });
    }
    if (order.status !== ORDER_STATUS[story]) {
      violations.push({ check: 'paid orders ⇔ succeeded payments', detail: `${who}: order ${order.id} is ${order.status}, expected ${ORDER_STATUS[story]}` });
    }
    const paidMinor = minor(payment.amount);
    const owed = paidMinor * (1 + payment.duplicate_transactions.length);
    const live = refunds.filter((refund) => refund.status !== 'failed').reduce((sum, refund) => sum + minor(refund.amount), 0);
    if (live > owed) violations.push({ check: 'refunds never above the paid amount', detail: `${who}: ${live} refunded of ${owed} taken` });
    const pending = refunds.filter((refund) => refund.status !== 'succeeded' && refund.status !== 'failed');
    if (pending.length > 0) violations.push({ check: 'every refund final', detail: `${who}: ${pending.map((r) => `${r.id} ${r.status}`).join(', ')}` });
    const refundedMinor = refunds.filter((refund) => refund.status === 'succeeded').reduce((sum, refund) => sum + minor(refund.amount), 0);
    const expectedRefunded = story === 'refunded' || story === 'duplicate' ? paidMinor : 0;
    if (refundedMinor !== expectedRefunded) {
      violations.push({ check: 'refunds as asked, once', detail: `${who}: ${refundedMinor} refunded, expected ${expectedRefunded}` });
    }
    if (story === 'duplicate' && payment.duplicate_transactions.length !== 1) {
      violations.push({ check: 'a second charge is one duplicate', detail: `${who}: duplicate_transactions ${JSON.stringify(payment.duplicate_transactions)}` });
    }
    if (!atProvider) {
      violations.push({ check: 'our state agrees with the provider', detail: `${who}: unknown at the provider` });
      continue;
    }
    // Alipay closes a trade refunded in full (TRADE_CLOSED), as the real one does.
    const closedByRefund = driven.plan.method === 'alipay' && atProvider.state === 'closed' && refundedMinor > 0 && refundedMinor === atProvider.amount;
    // Alipay has no trade to close until the buyer opens the QR code (ACQ.TRADE_NOT_EXIST): it stays
    // pending there; paying it after all would come back as a late success.
    const neverOpened = driven.plan.method === 'alipay' && story === 'cancelled' && atProvider.state === 'pending' && !atProvider.opened;
    if (atProvider.state !== PROVIDER_STATE[story] && !closedByRefund && !neverOpened) {
      violations.push({ check: 'our state agrees with the provider', detail: `${who}: provider says ${atProvider.state}, expected ${PROVIDER_STATE[story]}` });
    }
    const providerRefunded = atProvider.refunds.filter((refund) => refund.status === 'SUCCESS').reduce((sum, refund) => sum + refund.amount, 0);
    if (providerRefunded !== refundedMinor) {
      violations.push({ check: 'our state agrees with the provider', detail: `${who}: the provider refunded ${providerRefunded}, we recorded ${refundedMinor}` });
    }
  }
  return violations;
}

export interface SeenEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/** Moves that happen at most once per subject: two distinct events of one of these types = a move applied twice. */
const ONCE_PER_SUBJECT: Record<string, string> = {
  'payment.created': 'paymentId',
  'payment.processing': 'paymentId',
  'payment.succeeded': 'paymentId',
  'payment.failed': 'paymentId',
  'payment.cancelled': 'paymentId',
  'payment.expired': 'paymentId',
  'order.created': 'orderId',
  'order.paid': 'orderId',
  'refund.requested': 'refundId',
  'refund.succeeded': 'refundId',
  'refund.failed': 'refundId',
};

export function checkNoMoveTwice(events: readonly SeenEvent[]): Violation[] {
  const seen = new Map<string, string>();
  const violations: Violation[] = [];
  for (const event of events) {
    const field = ONCE_PER_SUBJECT[event.type];
    const subject = field ? event.data[field] : undefined;
    if (typeof subject !== 'string') continue;
    const key = `${event.type} ${subject}`;
    const first = seen.get(key);
    if (first && first !== event.id) violations.push({ check: 'no move applied twice', detail: `${key}: events ${first} and ${event.id}` });
    else seen.set(key, event.id);
  }
  return violations;
}

/** Every event published has exactly one audit record (records are stored under the event id). */
export function checkAuditComplete(events: readonly SeenEvent[], auditedIds: ReadonlySet<string>): Violation[] {
  const missing = events.filter((event) => !auditedIds.has(event.id));
  return missing.slice(0, 20).map((event) => ({ check: 'audit: one record per event', detail: `no record of ${event.type} ${event.id}` }))
    .concat(missing.length > 20 ? [{ check: 'audit: one record per event', detail: `… and ${missing.length - 20} more` }] : []);
}

type Reconciliation = Record<string, { payment_id: string }[]>;

/** The day's reconciliation lists nothing open: every mismatch of the run was resolved (refunded). */
export function checkReconciliation(day: string, reconciliation: Reconciliation): Violation[] {
  const open = Object.entries(reconciliation).filter(([list, items]) => list !== 'refunded_in_full' && items.length > 0);
  return open.map(([list, items]) => ({ check: 'reconciliation empty', detail: `${day} ${list}: ${items.map((item) => item.payment_id).join(', ')}` }));
}

/** Reads every payment's final state as an admin (orders, refunds) and the simulator's ledger. */
export async function readFinalState(
  admin: ApiClient,
  sim: (path: string) => Promise<{ status: number; body: unknown }>,
  driven: DrivenPayment,
): Promise<FinalState> {
  const state: FinalState = { driven, payment: null, order: null, refunds: [], atProvider: null };
  if (driven.orderId) state.order = await admin.getOrder(driven.orderId);
  if (!driven.paymentId) return state;
  state.payment = await admin.getPaymentDetail(driven.paymentId);
  state.refunds = (await admin.getRefunds(driven.paymentId, { page_size: 50 })).results;
  const ledger = await sim(`/sim/orders/${driven.paymentId}`);
  if (ledger.status === 200) state.atProvider = ledger.body as FinalState['atProvider'];
  return state;
}
