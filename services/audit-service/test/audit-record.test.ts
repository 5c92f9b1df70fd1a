import { actionFor, buildAuditEntry, utcDay } from '../src/domain/audit-record';
import { EVENT_TYPES } from '@pay/contracts';
import {
  callbackRejected,
  callbackVerified,
  duplicatePaid,
  eventAt,
  orderPaid,
  orderRefunded,
  paymentRefunded,
  paymentSucceeded,
  ref,
  refundFailed,
  refundRequested,
  refundSucceeded,
} from './audit-fixtures';

describe('audit actions', () => {
  it.each([
    ['payment.created', 'payment_created'],
    ['payment.verified', 'payment_verified'],
    ['payment.succeeded', 'payment_succeeded'],
    ['payment.failed', 'payment_failed'],
    ['payment.refunded', 'payment_refunded'],
    ['order.created', 'order_created'],
    ['order.paid', 'order_paid'],
    ['payment.expired', 'payment_expired'],
    ['payment.late_success', 'payment_late_success'],
    ['callback.verified', 'callback_verified'],
    ['refund.requested', 'refund_requested'],
    ['refund.succeeded', 'refund_succeeded'],
    ['refund.failed', 'refund_failed'],
    ['payment.duplicate_paid', 'payment_duplicate_paid'],
    ['order.refunded', 'order_refunded'],
  ])('audits %s as %s', (type, action) => {
    expect(actionFor(type, {})).toBe(action);
  });

  it.each(['bad_signature', 'bad_signature: v1 mismatch', 'missing_signature', 'unknown_serial: 5157F09E'])(
    'audits a callback rejected for %s as signature_verification_failed',
    (reason) => {
      expect(actionFor('callback.rejected', { reason })).toBe('signature_verification_failed');
    },
  );

  it.each(['stale_timestamp', 'amount_mismatch', 'provider_mismatch: mock notified about a wechat payment, which is paid at wechatpay', 'not_bad_signature'])(
    'audits a callback rejected for %s as callback_rejected',
    (reason) => {
      expect(actionFor('callback.rejected', { reason })).toBe('callback_rejected');
    },
  );
});

describe('building an audit record', () => {
  const recordedAt = new Date('2024-03-15T23:59:59.500Z');

  it('flattens a payment event into the original audit fields and keeps the whole data', () => {
    const event = paymentSucceeded(1, '2024-03-15T23:59:59.000Z');
    const entry = buildAuditEntry(event, recordedAt);
    expect(entry).toEqual({
      _id: event.id,
      action: 'payment_succeeded',
      event_type: 'payment.succeeded',
      occurred_at: new Date('2024-03-15T23:59:59.000Z'),
      recorded_at: recordedAt,
      day: '2024-03-15',
      payment_id: 'p1',
      order_id: 'o1',
      user_id: 'u1',
      amount_minor: 9900,
      currency: 'CNY',
      transaction_id: 'tx1',
      provider: 'mock',
      reason: null,
      error: null,
      verify_ms: null,
      correlation_id: event.correlation_id,
      causation_id: null,
      producer: 'payment-service',
      data: event.data,
    });
  });

  it('buckets by the UTC day the event occurred, not the day it was recorded', () => {
    const entry = buildAuditEntry(orderPaid(1, '2024-03-15T23:59:59.999Z'), new Date('2024-03-16T00:00:01Z'));
    expect(entry.day).toBe('2024-03-15');
    expect(utcDay(new Date('2024-03-15T23:30:00-02:00'))).toBe('2024-03-16');
  });

  it('records the reason, error and response time of a rejected callback', () => {
    const entry = buildAuditEntry(callbackRejected('bad_signature: v1 mismatch', 12.5, '2024-03-15T10:00:00.000Z'), recordedAt);
    expect(entry).toMatchObject({
      action: 'signature_verification_failed',
      reason: 'bad_signature: v1 mismatch',
      error: 'bad_signature: v1 mismatch',
      provider: 'mock',
      payment_id: null,
      amount_minor: null,
      verify_ms: 12.5,
    });
  });

  it('keeps the response time of a verified callback and leaves absent fields null', () => {
    const entry = buildAuditEntry(callbackVerified(3, 42, '2024-03-15T10:00:00.000Z'), recordedAt);
    expect(entry).toMatchObject({ action: 'callback_verified', payment_id: 'p3', order_id: null, user_id: null, currency: null, verify_ms: 42 });
  });

  it('records a refund as payment_refunded with the original fields, the amount this refund’s', () => {
    const event = paymentRefunded(5, { refundMinor: 1050, refundedMinor: 4050 }, '2024-03-15T10:00:00.000Z');
    const entry = buildAuditEntry(event, recordedAt);
    expect(entry).toMatchObject({ action: 'payment_refunded', payment_id: 'p5', order_id: 'o5', user_id: 'u5', amount_minor: 1050, currency: 'CNY', reason: 'money back' });
    expect(entry.data).toMatchObject({ refundId: 'p5r01', refundMinor: 1050, refundedMinor: 4050, amountMinor: 9900, fully: false, actor: 'admin:ops' });
  });

  it.each([
    ['refund.requested', refundRequested(6, 2000, '2024-03-15T10:00:00.000Z'), { action: 'refund_requested', amount_minor: 2000, reason: 'money back' }],
    ['refund.succeeded', refundSucceeded(6, 2000, '2024-03-15T10:00:00.000Z'), { action: 'refund_succeeded', amount_minor: 2000, reason: null }],
    ['refund.failed', refundFailed(6, 2000, '2024-03-15T10:00:00.000Z'), { action: 'refund_failed', amount_minor: 2000, reason: 'provider refused' }],
    ['payment.duplicate_paid', duplicatePaid(6, '2024-03-15T10:00:00.000Z'), { action: 'payment_duplicate_paid', amount_minor: 9900, transaction_id: 'dup-tx6', provider: 'mock' }],
    ['order.refunded', orderRefunded(6, 2000, '2024-03-15T10:00:00.000Z'), { action: 'order_refunded', amount_minor: 9900 }],
  ])('records %s with its payment, order, user and amount', (_type, event, fields) => {
    expect(buildAuditEntry(event, recordedAt)).toMatchObject({ payment_id: 'p6', order_id: 'o6', user_id: 'u6', currency: 'CNY', ...fields });
  });

  it('records every event type of the contracts under an action of its own', () => {
    const actions = EVENT_TYPES.filter((type) => type !== 'callback.rejected').map((type) => actionFor(type, {}));
    expect(new Set(actions).size).toBe(actions.length);
  });

  it('copies the data so later changes to the event cannot reach the record', () => {
    const event = eventAt('payment.failed', { ...ref(2), reason: 'declined', provider: null, actor: 'admin:a1' }, '2024-03-15T10:00:00.000Z');
    const entry = buildAuditEntry(event, recordedAt);
    (event.data as { reason: string }).reason = 'changed';
    expect(entry.data.reason).toBe('declined');
    expect(entry.reason).toBe('declined');
  });
});
