import type { EventEnvelope } from '@pay/contracts';
import { findPage, isDuplicateKeyError } from '@pay/db';
import { Conflict } from '@pay/errors';
import { AggregateCollection, type OutboxRelay, type Versioned } from '@pay/outbox';
import type { PayParams } from '@pay/provider-clients';
import { OPEN_STATUSES, PaymentAggregate, liveKeyFor, type Payment, type ProviderOrder } from '../domain/payment';
import type { Refund } from '../domain/refund';
import type { PaymentStore } from '../domain/payment-store';
import type { PaymentDocument, PaymentModel } from './payment-model';

export class LivePaymentExists extends Conflict {
  constructor(orderId: string) {
    super(`order ${orderId} already has a live payment`, { order_id: orderId }, 'live_payment_exists');
  }
}

type StoredPayment = Omit<PaymentDocument, 'version' | 'outbox' | 'outbox_pending' | 'outbox_lease_until' | 'outbox_lease_owner'>;

/** The only place that talks to the payments collection. */
export class PaymentRepository implements PaymentStore {
  private readonly documents: AggregateCollection<StoredPayment>;

  constructor(
    private readonly model: PaymentModel,
    relay: OutboxRelay,
    /** Called after every stored write with the events it stored (the payment outcome metrics count them). */
    private readonly onStored: (events: readonly EventEnvelope[], payment: Payment) => void = () => undefined,
  ) {
    this.documents = new AggregateCollection<StoredPayment>(model as never, relay);
  }

  async insert(payment: PaymentAggregate): Promise<void> {
    try {
      await this.documents.insert(toDocument(payment.state), payment.newEvents);
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new LivePaymentExists(payment.state.orderId);
      throw error;
    }
    this.onStored(payment.newEvents, payment.state);
  }

  async load(id: string): Promise<PaymentAggregate | null> {
    const document = await this.documents.load(id);
    return document ? PaymentAggregate.rehydrate(toPayment(document), document.version) : null;
  }

  async save(payment: PaymentAggregate): Promise<PaymentAggregate | null> {
    const { _id: _, ...set } = toDocument(payment.state);
    const stored = await this.documents.save(payment.id, payment.version, set, payment.newEvents);
    if (!stored) return null;
    const after = toPayment(stored);
    this.onStored(payment.newEvents, after);
    return PaymentAggregate.rehydrate(after, stored.version);
  }

  async get(id: string): Promise<Payment | null> {
    const document = await this.documents.load(id);
    return document ? toPayment(document) : null;
  }

  async openForOrder(orderId: string): Promise<Payment[]> {
    const documents = await this.model.find({ order_id: orderId, status: { $in: OPEN_STATUSES } }, { outbox: 0 }).lean<PaymentDocument[]>();
    return documents.map(toPayment);
  }

  /**
   * One query per open status, each led by its `status` equality: FerretDB v1 pushes equalities down to
   * PostgreSQL but not `$in`, with which every payment ever stored was read and decoded on every sweep.
   */
  async overdue(now: Date, limit: number): Promise<Payment[]> {
    const byStatus = await Promise.all(
      OPEN_STATUSES.map((status) => this.model.find({ status, expires_at: { $lte: now } }, { outbox: 0 }).limit(limit).lean<PaymentDocument[]>()),
    );
    return byStatus.flat().slice(0, limit).map(toPayment);
  }

  async dueForQuery(now: Date, limit: number): Promise<Payment[]> {
    const documents = await this.model
      .find({ status: 'processing', next_query_at: { $lte: now } }, { outbox: 0 })
      .sort({ next_query_at: 1 })
      .limit(limit)
      .lean<PaymentDocument[]>();
    return documents.map(toPayment);
  }

  async refundsDue(now: Date, limit: number): Promise<Payment[]> {
    const documents = await this.model
      .find({ refunds_pending: true, refunds_due_at: { $lte: now } }, { outbox: 0 })
      .sort({ refunds_due_at: 1 })
      .limit(limit)
      .lean<PaymentDocument[]>();
    return documents.map(toPayment);
  }

  async list(filter: { userId?: string; orderId?: string }, page: number, pageSize: number): Promise<{ items: Payment[]; count: number }> {
    const query: Record<string, string> = {};
    if (filter.userId) query.user_id = filter.userId;
    if (filter.orderId) query.order_id = filter.orderId;
    const { documents, count } = await findPage<PaymentDocument>(this.model, query, page, pageSize);
    return { items: documents.map(toPayment), count };
  }
}

/** The earliest query time of a refund still waiting for its provider's word. */
function refundsDueAt(refunds: readonly Refund[]): Date | null {
  const due = refunds.filter((refund) => refund.nextQueryAt && (refund.status === 'pending' || refund.status === 'needs_attention')).map((refund) => refund.nextQueryAt!.getTime());
  return due.length > 0 ? new Date(Math.min(...due)) : null;
}

function toDocument(payment: Payment): StoredPayment {
  const refundsDue = refundsDueAt(payment.refunds);
  return {
    _id: payment.id,
    order_id: payment.orderId,
    user_id: payment.userId,
    amount_minor: payment.amountMinor,
    currency: payment.currency,
    method: payment.method,
    status: payment.status,
    live_key: liveKeyFor(payment, payment.status),
    transaction_id: payment.transactionId,
    provider: payment.provider,
    late_success: payment.lateSuccess,
    provider_order: payment.providerOrder
      ? {
          provider: payment.providerOrder.provider,
          channel: payment.providerOrder.channel,
          pay_params: { ...payment.providerOrder.payParams },
          provider_order_id: payment.providerOrder.providerOrderId,
          opened_at: payment.providerOrder.openedAt,
        }
      : null,
    next_query_at: payment.nextQueryAt,
    query_attempts: payment.queryAttempts,
    refunds: payment.refunds.map((refund) => ({
      id: refund.id,
      amount_minor: refund.amountMinor,
      reason: refund.reason,
      status: refund.status,
      provider_refund_id: refund.providerRefundId,
      actor: refund.actor,
      idempotency_key: refund.idempotencyKey,
      request_fingerprint: refund.requestFingerprint,
      next_query_at: refund.nextQueryAt,
      query_attempts: refund.queryAttempts,
      created_at: refund.createdAt,
      updated_at: refund.updatedAt,
      logs: refund.logs,
    })),
    duplicate_transactions: payment.duplicateTransactions.map((duplicate) => ({
      transaction_id: duplicate.transactionId,
      provider: duplicate.provider,
      amount_minor: duplicate.amountMinor,
      at: duplicate.at,
    })),
    refunds_due_at: refundsDue,
    refunds_pending: refundsDue !== null,
    expires_at: payment.expiresAt,
    created_at: payment.createdAt,
    updated_at: payment.updatedAt,
    logs: payment.logs,
  };
}

function toPayment(document: Versioned<StoredPayment> | StoredPayment): Payment {
  return {
    id: document._id,
    orderId: document.order_id,
    userId: document.user_id,
    amountMinor: document.amount_minor,
    currency: document.currency,
    method: document.method,
    status: document.status,
    transactionId: document.transaction_id ?? null,
    provider: (document.provider as Payment['provider']) ?? null,
    lateSuccess: document.late_success ?? false,
    providerOrder: document.provider_order
      ? {
          provider: document.provider_order.provider as ProviderOrder['provider'],
          channel: document.provider_order.channel as ProviderOrder['channel'],
          payParams: document.provider_order.pay_params as unknown as PayParams,
          providerOrderId: document.provider_order.provider_order_id ?? null,
          openedAt: new Date(document.provider_order.opened_at),
        }
      : null,
    nextQueryAt: document.next_query_at ? new Date(document.next_query_at) : null,
    queryAttempts: document.query_attempts ?? 0,
    refunds: (document.refunds ?? []).map((refund) => ({
      id: refund.id,
      amountMinor: refund.amount_minor,
      reason: refund.reason,
      status: refund.status as Refund['status'],
      providerRefundId: refund.provider_refund_id ?? null,
      actor: refund.actor,
      idempotencyKey: refund.idempotency_key ?? null,
      requestFingerprint: refund.request_fingerprint ?? null,
      nextQueryAt: refund.next_query_at ? new Date(refund.next_query_at) : null,
      queryAttempts: refund.query_attempts ?? 0,
      createdAt: new Date(refund.created_at),
      updatedAt: new Date(refund.updated_at),
      logs: (refund.logs ?? []).map((entry) => ({ ...entry, at: new Date(entry.at), from: (entry.from ?? null) as Refund['status'] | null, to: entry.to as Refund['status'], detail: entry.detail ?? null })),
    })),
    duplicateTransactions: (document.duplicate_transactions ?? []).map((duplicate) => ({
      transactionId: duplicate.transaction_id,
      provider: (duplicate.provider ?? null) as Payment['provider'],
      amountMinor: duplicate.amount_minor,
      at: new Date(duplicate.at),
    })),
    expiresAt: new Date(document.expires_at),
    createdAt: new Date(document.created_at),
    updatedAt: new Date(document.updated_at),
    logs: (document.logs ?? []).map((entry) => ({ ...entry, at: new Date(entry.at), from: entry.from ?? null, detail: entry.detail ?? null })),
  };
}
