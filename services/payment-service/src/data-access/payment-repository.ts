import type { EventEnvelope } from '@pay/contracts';
import { DocumentLocks, findPage, isDuplicateKeyError } from '@pay/db';
import { Conflict } from '@pay/errors';
import { enqueueEvents, initialOutbox } from '@pay/outbox';
import { OPEN_STATUSES, liveKeyFor, type Payment, type PaymentChange, type PaymentLogEntry } from '../domain/payment';
import type { PaymentStore } from '../domain/payment-store';
import type { PaymentDocument, PaymentModel } from './payment-model';

export class LivePaymentExists extends Conflict {
  constructor(orderId: string) {
    super(`order ${orderId} already has a live payment`, { order_id: orderId }, 'live_payment_exists');
  }
}

/** The only place that talks to the payments collection. */
export class PaymentRepository implements PaymentStore {
  constructor(
    private readonly model: PaymentModel,
    private readonly locks: DocumentLocks = new DocumentLocks(),
    /** Called after every stored change with what it became: `created`, a new status, or `late_success`. */
    private readonly onWrite: (outcome: string, payment: Payment) => void = () => undefined,
  ) {}

  exclusive<T>(id: string, work: () => Promise<T>): Promise<T> {
    return this.locks.run(`${this.model.collection.collectionName}/${id}`, work);
  }

  async insert(payment: Payment, events: EventEnvelope[]): Promise<void> {
    try {
      await this.model.collection.insertOne({ ...toDocument(payment), ...initialOutbox(events) } as never);
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new LivePaymentExists(payment.orderId);
      throw error;
    }
    this.onWrite('created', payment);
  }

  async get(id: string): Promise<Payment | null> {
    const document = await this.model.findById(id, { outbox: 0 }).lean<PaymentDocument>();
    return document ? toPayment(document) : null;
  }

  async apply(payment: Payment, change: PaymentChange, events: EventEnvelope[]): Promise<Payment | null> {
    const set: Record<string, unknown> = {
      status: change.to,
      live_key: liveKeyFor(payment, change.to),
      updated_at: new Date(),
      ...enqueueEvents(events),
    };
    if (change.set.transactionId !== undefined) set.transaction_id = change.set.transactionId;
    if (change.set.provider !== undefined) set.provider = change.set.provider;
    if (change.set.lateSuccess !== undefined) set.late_success = change.set.lateSuccess;
    const document = await this.model.collection.findOneAndUpdate(
      { _id: payment.id as never, status: change.from },
      { $set: set, $push: { logs: { $each: change.logs } } as never },
      { returnDocument: 'after' }, // no projection: FerretDB v1's findAndModify does not support `fields`
    );
    if (!document) return null;
    const stored = toPayment(document as unknown as PaymentDocument);
    this.onWrite(change.set.lateSuccess ? 'late_success' : change.to, stored);
    return stored;
  }

  async appendLog(id: string, entry: PaymentLogEntry): Promise<void> {
    await this.model.collection.updateOne({ _id: id as never }, { $push: { logs: entry } as never, $set: { updated_at: new Date() } });
  }

  async openForOrder(orderId: string): Promise<Payment[]> {
    const documents = await this.model.find({ order_id: orderId, status: { $in: OPEN_STATUSES } }, { outbox: 0 }).lean<PaymentDocument[]>();
    return documents.map(toPayment);
  }

  async overdue(now: Date, limit: number): Promise<Payment[]> {
    const documents = await this.model
      .find({ status: { $in: OPEN_STATUSES }, expires_at: { $lte: now } }, { outbox: 0 })
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

function toDocument(payment: Payment): Omit<PaymentDocument, 'outbox' | 'outbox_pending'> {
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
    expires_at: payment.expiresAt,
    created_at: payment.createdAt,
    updated_at: payment.updatedAt,
    logs: payment.logs,
  };
}

function toPayment(document: PaymentDocument): Payment {
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
    expiresAt: new Date(document.expires_at),
    createdAt: new Date(document.created_at),
    updatedAt: new Date(document.updated_at),
    logs: (document.logs ?? []).map((entry) => ({ ...entry, at: new Date(entry.at), from: entry.from ?? null, detail: entry.detail ?? null })),
  };
}
