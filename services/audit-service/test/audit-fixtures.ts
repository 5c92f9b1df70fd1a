import { createEvent, type AnyEvent, type EventData, type EventEnvelope, type EventType } from '@pay/contracts';

/** An event as a producer would publish it, at a chosen instant (reports bucket by `occurred_at`). */
export function eventAt<T extends EventType>(type: T, data: EventData<T>, occurredAt: string): EventEnvelope<T> {
  return { ...createEvent(type, data, { producer: producerOf(type) }), occurred_at: occurredAt };
}

function producerOf(type: EventType): string {
  if (type.startsWith('order.')) return 'order-service';
  if (type.startsWith('callback.')) return 'callback-gateway';
  return 'payment-service';
}

export const ref = (n: number, amountMinor = 9900) => ({ paymentId: `p${n}`, orderId: `o${n}`, userId: `u${n}`, amountMinor, currency: 'CNY' });

export const paymentCreated = (n: number, at: string) => eventAt('payment.created', { ...ref(n), method: 'wechat', expiresAt: at }, at);
export const paymentSucceeded = (n: number, at: string) =>
  eventAt('payment.succeeded', { ...ref(n), transactionId: `tx${n}`, provider: 'mock', actor: 'provider:mock' }, at);
export const paymentFailed = (n: number, at: string) =>
  eventAt('payment.failed', { ...ref(n), reason: 'provider said no', provider: 'mock', actor: 'provider:mock' }, at);
export const paymentExpired = (n: number, at: string) => eventAt('payment.expired', { ...ref(n), expiresAt: at, actor: 'system:sweeper' }, at);
export const paymentCancelled = (n: number, at: string) => eventAt('payment.cancelled', { ...ref(n), reason: 'changed mind', actor: `customer:u${n}` }, at);
export const paymentLateSuccess = (n: number, at: string) =>
  eventAt('payment.late_success', { ...ref(n), transactionId: `late-tx${n}`, provider: 'mock', status: 'expired' }, at);
export const orderPaid = (n: number, at: string) =>
  eventAt('order.paid', { orderId: `o${n}`, orderNumber: `ORD-${n}`, userId: `u${n}`, paymentId: `p${n}`, amountMinor: 9900, currency: 'CNY', transactionId: `tx${n}` }, at);
export const duplicatePaid = (n: number, at: string) =>
  eventAt('payment.duplicate_paid', { ...ref(n), transactionId: `dup-tx${n}`, provider: 'mock', firstTransactionId: `tx${n}` }, at);
const refundRef = (n: number, refundMinor: number, sequence: number) => ({ ...ref(n, refundMinor), refundId: `p${n}r0${sequence}` });
export const refundRequested = (n: number, refundMinor: number, at: string, sequence = 1) =>
  eventAt('refund.requested', { ...refundRef(n, refundMinor, sequence), reason: 'money back', actor: 'admin:ops' }, at);
export const refundSucceeded = (n: number, refundMinor: number, at: string, sequence = 1) =>
  eventAt('refund.succeeded', { ...refundRef(n, refundMinor, sequence), providerRefundId: `prov-r${n}` }, at);
export const refundFailed = (n: number, refundMinor: number, at: string, sequence = 1) =>
  eventAt('refund.failed', { ...refundRef(n, refundMinor, sequence), reason: 'provider refused' }, at);
/** payment.refunded of a 99.00 payment: `refundedMinor` is the payment's total refunded so far, `paidMinor` what it took. */
export const paymentRefunded = (n: number, refund: { refundMinor: number; refundedMinor: number; paidMinor?: number; sequence?: number }, at: string) =>
  eventAt(
    'payment.refunded',
    {
      ...ref(n),
      refundId: `p${n}r0${refund.sequence ?? 1}`,
      refundMinor: refund.refundMinor,
      refundedMinor: refund.refundedMinor,
      fully: refund.refundedMinor >= (refund.paidMinor ?? 9900),
      paidOrder: true,
      reason: 'money back',
      actor: 'admin:ops',
    },
    at,
  );
/** A refund that went through: requested, succeeded, and the payment refunded (the three events of one refund). */
export const refundedInOne = (n: number, refund: { refundMinor: number; refundedMinor: number; paidMinor?: number; sequence?: number }, at: string) => [
  refundRequested(n, refund.refundMinor, at, refund.sequence),
  refundSucceeded(n, refund.refundMinor, at, refund.sequence),
  paymentRefunded(n, refund, at),
];
export const orderRefunded = (n: number, refundedMinor: number, at: string) =>
  eventAt(
    'order.refunded',
    { orderId: `o${n}`, orderNumber: `ORD-${n}`, userId: `u${n}`, paymentId: `p${n}`, refundedMinor, amountMinor: 9900, currency: 'CNY', fully: refundedMinor >= 9900 },
    at,
  );
export const callbackVerified = (n: number, verifyMs: number, at: string) =>
  eventAt(
    'callback.verified',
    { provider: 'mock', notificationId: `n${n}`, paymentId: `p${n}`, transactionId: `tx${n}`, outcome: 'success', amountMinor: 9900, receivedAt: at, verifyMs },
    at,
  );
export const callbackRejected = (reason: string, verifyMs: number, at: string) =>
  eventAt('callback.rejected', { provider: 'mock', reason, paymentId: null, notificationId: null, receivedAt: at, verifyMs }, at);

/**
 * One crafted business day (2024-03-15) with history around it: 10 payments created; 7 succeeded, 2
 * expired, 1 cancelled; 7 verified callbacks (10..70 ms) and 1 rejected for a bad signature (5 ms);
 * orders paid for payments 1-6 only (7's order.paid comes the next day); payment 8 succeeded late;
 * an order paid the day before for a payment never seen succeeding; a success the next day.
 */
export const REPORT_DAY = '2024-03-15';
export function craftedDayEvents(): AnyEvent[] {
  const at = (day: string, minute: number) => `${day}T10:${String(minute).padStart(2, '0')}:00.000Z`;
  const day = (minute: number) => at(REPORT_DAY, minute);
  const events: AnyEvent[] = [orderPaid(99, at('2024-03-14', 0))];
  for (let n = 1; n <= 10; n++) events.push(paymentCreated(n, day(n)));
  for (let n = 1; n <= 7; n++) events.push(callbackVerified(n, n * 10, day(10 + n)), paymentSucceeded(n, day(10 + n)));
  for (let n = 1; n <= 6; n++) events.push(orderPaid(n, day(20 + n)));
  events.push(callbackRejected('bad_signature: v1 does not match', 5, day(30)));
  events.push(paymentExpired(8, day(31)), paymentExpired(9, day(32)), paymentCancelled(10, day(33)));
  events.push(paymentLateSuccess(8, day(40)));
  events.push(orderPaid(7, at('2024-03-16', 1)), paymentSucceeded(11, at('2024-03-16', 2)));
  return events;
}

/**
 * Two days of refunds (2024-04-01, 2024-04-02), on top of nothing else. Day 1: payment 21 succeeds late
 * (its order was cancelled), 22 succeeds, its order is paid and it is paid again (a duplicate), 23
 * succeeds late, 24 succeeds but its order never becomes paid, 25 succeeds and its order is paid.
 * Day 2: 21 refunded in full; 22 refunded its duplicate (99.00 of 198.00 taken); 23 refunded 30.00 of
 * 99.00; 24 refunded in full; a refund of 25 asked for and refused by the provider.
 */
export const REFUND_DAY_1 = '2024-04-01';
export const REFUND_DAY_2 = '2024-04-02';
export function refundDaysEvents(): AnyEvent[] {
  const at = (day: string, minute: number) => `${day}T08:${String(minute).padStart(2, '0')}:00.000Z`;
  const one = (minute: number) => at(REFUND_DAY_1, minute);
  const two = (minute: number) => at(REFUND_DAY_2, minute);
  return [
    paymentLateSuccess(21, one(1)),
    paymentSucceeded(22, one(2)),
    orderPaid(22, one(3)),
    duplicatePaid(22, one(4)),
    paymentLateSuccess(23, one(5)),
    paymentSucceeded(24, one(6)),
    paymentSucceeded(25, one(7)),
    orderPaid(25, one(8)),
    ...refundedInOne(21, { refundMinor: 9900, refundedMinor: 9900 }, two(1)),
    ...refundedInOne(22, { refundMinor: 9900, refundedMinor: 9900, paidMinor: 19800 }, two(2)),
    ...refundedInOne(23, { refundMinor: 3000, refundedMinor: 3000 }, two(3)),
    ...refundedInOne(24, { refundMinor: 9900, refundedMinor: 9900 }, two(4)),
    refundRequested(25, 9900, two(5)),
    refundFailed(25, 9900, two(6)),
  ];
}
