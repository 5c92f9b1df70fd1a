import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';

/**
 * Every event type of the design, one zod schema each. Producers build with `createEvent`, consumers
 * check with `parseEvent`; both use these schemas, so a field renamed on one side fails on the other.
 * Money is integer minor units (`amountMinor`).
 */
const id = z.string().min(1).max(64);
const amountMinor = z.number().int().min(0).max(1_000_000_000_000);
const currency = z.string().regex(/^[A-Z]{3}$/);
export const providerName = z.enum(['mock', 'wechatpay', 'alipay']);
export const paymentMethod = z.enum(['wechat', 'alipay', 'bank_card']);

const paymentRef = {
  paymentId: id,
  orderId: id,
  userId: id,
  amountMinor,
  currency,
};

const refundRef = {
  refundId: id,
  paymentId: id,
  orderId: id,
  userId: id,
  amountMinor,
  currency,
};

/**
 * A point of the audit hash chain the audit-service vouches for, kept outside its database (the
 * order-service keeps them): `mac` = HMAC-SHA256(AUDIT_CHAIN_KEY, `anchor|<seq>|<hash>`), so a keeper
 * without the key cannot forge one. The same shape travels to the audit-service's verify (header
 * `x-audit-anchor`), which checks the chain still reaches it.
 */
const anchoredPoint = { seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER), hash: z.string().regex(/^[0-9a-f]{64}$/) };
export const auditAnchor = z.object({
  ...anchoredPoint,
  mac: z.string().regex(/^[0-9a-f]{64}$/),
  /**
   * The anchor published before this one (null: none known). The keeper marks every anchor it holds
   * between the two as skipped, and verify checks those too: an anchor that skips one means a chain cut
   * and anchored again past the cut, or two replicas anchoring at once (then both are true).
   */
  prev: z.object(anchoredPoint).nullable().optional(),
  /** When the anchored record was appended. */
  records_at: z.iso.datetime().optional(),
  anchored_at: z.iso.datetime(),
});
export type AuditAnchor = z.infer<typeof auditAnchor>;

export const eventDataSchemas = {
  'order.created': z.object({ orderId: id, orderNumber: z.string(), userId: id, amountMinor, currency }),
  'order.paid': z.object({ orderId: id, orderNumber: z.string(), userId: id, paymentId: id, amountMinor, currency, transactionId: z.string().nullable() }),
  'order.cancelled': z.object({ orderId: id, orderNumber: z.string(), userId: id, amountMinor, currency, reason: z.string() }),
  'payment.created': z.object({ ...paymentRef, method: paymentMethod, expiresAt: z.string() }),
  'payment.processing': z.object({ ...paymentRef, method: paymentMethod }),
  'payment.verified': z.object({ ...paymentRef, provider: providerName, notificationId: z.string(), transactionId: z.string() }),
  'payment.succeeded': z.object({ ...paymentRef, transactionId: z.string().nullable(), provider: providerName.nullable(), actor: z.string() }),
  'payment.failed': z.object({ ...paymentRef, reason: z.string(), provider: providerName.nullable(), actor: z.string() }),
  'payment.cancelled': z.object({ ...paymentRef, reason: z.string(), actor: z.string() }),
  'payment.expired': z.object({ ...paymentRef, expiresAt: z.string(), actor: z.string() }),
  'payment.late_success': z.object({ ...paymentRef, transactionId: z.string().nullable(), provider: providerName.nullable(), status: z.string() }),
  'payment.duplicate_paid': z.object({
    ...paymentRef,
    /** The second (third, …) transaction: money taken again for a payment already succeeded. */
    transactionId: z.string(),
    provider: providerName.nullable(),
    firstTransactionId: z.string().nullable(),
  }),
  'refund.requested': z.object({ ...refundRef, reason: z.string(), actor: z.string() }),
  'refund.succeeded': z.object({ ...refundRef, providerRefundId: z.string().nullable() }),
  'refund.failed': z.object({ ...refundRef, reason: z.string() }),
  /**
   * Money went back for a payment: `amountMinor` is the payment's amount, `refundMinor` this refund's,
   * `refundedMinor` how much of the payment's own amount is refunded so far (refunds count against
   * duplicate charges first, so refunding a duplicate leaves it 0).
   */
  'payment.refunded': z.object({
    ...paymentRef,
    refundId: id,
    refundMinor: amountMinor,
    refundedMinor: amountMinor,
    /** The payment's own amount is refunded in full (its order, if it paid one, is refunded). */
    fully: z.boolean(),
    /**
     * The payment succeeded as its order's payment (`payment.succeeded` went out): the order is, or will
     * be, paid by it. False for a late success, whose money never paid the order. Absent from events of
     * older producers: read as false.
     */
    paidOrder: z.boolean().default(false),
    reason: z.string(),
    actor: z.string(),
  }),
  'order.refunded': z.object({ orderId: id, orderNumber: z.string(), userId: id, paymentId: id, refundedMinor: amountMinor, amountMinor, currency, fully: z.boolean() }),
  'callback.verified': z.object({
    provider: providerName,
    notificationId: z.string().min(1).max(128),
    paymentId: id,
    transactionId: z.string().max(128).nullable(),
    outcome: z.enum(['success', 'failure']),
    /** The payment's amount as the provider states it (for a refund notification: the paid total). */
    amountMinor,
    /** Present when the notification is about a refund (WeChat REFUND.*) rather than the payment. */
    refund: z
      .object({
        refundId: id,
        providerRefundId: z.string().max(128).nullable(),
        status: z.enum(['succeeded', 'failed', 'needs_attention']),
        refundMinor: amountMinor,
      })
      .optional(),
    receivedAt: z.string(),
    /** Time from receiving the request to the verified handoff (for the callback response-time report). */
    verifyMs: z.number().min(0),
  }),
  'callback.rejected': z.object({
    provider: z.string().max(32),
    /**
     * `<code>: <detail>`. The code is the adapter's refusal of the request (`bad_signature`,
     * `stale_timestamp`, …) or, for a verified notification, `amount_mismatch` (not the payment's amount)
     * or `provider_mismatch` (not the payment's provider, see providers.ts).
     */
    reason: z.string().max(200),
    paymentId: id.nullable(),
    notificationId: z.string().max(128).nullable(),
    receivedAt: z.string(),
    verifyMs: z.number().min(0),
  }),
  'audit.checkpoint': auditAnchor,
} as const;

export type EventType = keyof typeof eventDataSchemas;
export const EVENT_TYPES = Object.keys(eventDataSchemas) as EventType[];
export type EventData<T extends EventType> = z.infer<(typeof eventDataSchemas)[T]>;

export const envelopeSchema = z.object({
  id: z.uuid(),
  type: z.enum(EVENT_TYPES as [EventType, ...EventType[]]),
  version: z.literal(1),
  occurred_at: z.iso.datetime(),
  producer: z.string().min(1),
  correlation_id: z.string().min(1).max(128),
  causation_id: z.string().max(128).nullable(),
  data: z.unknown(),
});

export interface EventEnvelope<T extends EventType = EventType> {
  id: string;
  type: T;
  version: 1;
  occurred_at: string;
  producer: string;
  correlation_id: string;
  causation_id: string | null;
  data: EventData<T>;
}

export type AnyEvent = { [T in EventType]: EventEnvelope<T> }[EventType];

export interface EventOrigin {
  producer: string;
  /** The request or event chain this belongs to; a new chain starts with the event's own id. */
  correlation_id?: string;
  /** The event (or request) that directly caused this one. */
  causation_id?: string | null;
  /** A deterministic id, when the same fact may be produced twice (e.g. a provider notification). */
  id?: string;
}

export function createEvent<T extends EventType>(type: T, data: EventData<T>, origin: EventOrigin): EventEnvelope<T> {
  const eventId = origin.id ?? randomUUID();
  return {
    id: eventId,
    type,
    version: 1,
    occurred_at: new Date().toISOString(),
    producer: origin.producer,
    correlation_id: origin.correlation_id ?? eventId,
    causation_id: origin.causation_id ?? null,
    data: eventDataSchemas[type].parse(data) as EventData<T>,
  };
}

export class InvalidEvent extends Error {
  constructor(
    message: string,
    readonly issues: unknown,
  ) {
    super(message);
    this.name = 'InvalidEvent';
  }
}

/** Validates an incoming message: the envelope, then the data against its type's schema. */
export function parseEvent(raw: unknown): AnyEvent {
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) throw new InvalidEvent('invalid event envelope', envelope.error.issues);
  const data = eventDataSchemas[envelope.data.type].safeParse(envelope.data.data);
  if (!data.success) throw new InvalidEvent(`invalid data for ${envelope.data.type}`, data.error.issues);
  return { ...envelope.data, data: data.data } as AnyEvent;
}

/** The cause of a follow-up event: same correlation, caused by this event. */
export function causedBy(event: { id: string; correlation_id: string }, producer: string): EventOrigin {
  return { producer, correlation_id: event.correlation_id, causation_id: event.id };
}

const EVENT_ID_NAMESPACE = Buffer.from('6f1d3c2a9b8e4f7a8c5d2e1f0a9b8c7d', 'hex');

/**
 * A UUID (version 5, SHA-1 name-based) for a fact that may be reported more than once, e.g. one provider
 * notification: every report gets the same event id, so consumers apply it once.
 */
export function deterministicEventId(name: string): string {
  const hash = createHash('sha1').update(EVENT_ID_NAMESPACE).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
