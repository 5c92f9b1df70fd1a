import { LRUCache } from 'lru-cache';
import { Schema, type Connection } from 'mongoose';
import { Arrivals } from '@pay/arrivals';
import type { PaymentMethod } from '@pay/contracts';
import { isDuplicateKeyError } from '@pay/db';
import type { KnownPayment, KnownPayments } from '../domain/known-payments';

interface KnownPaymentDocument {
  _id: string;
  amount_minor: number;
  currency: string;
  /** Absent on payments recorded before the method was (see KnownPayment.method). */
  method?: string;
}

const schema = new Schema<KnownPaymentDocument>(
  {
    _id: { type: String },
    amount_minor: { type: Number, required: true },
    currency: { type: String, required: true },
    method: { type: String },
  },
  { collection: 'known_payments', versionKey: false },
);

/** How many payments a process keeps in memory once read (a few MB at most). */
export const KNOWN_PAYMENTS_CACHED = 20_000;

/**
 * The gateway's projection of payments from payment.created. Insert-only: the unique `_id` makes a
 * duplicate (redelivery, replay) a no-op without any read-modify-write, which FerretDB v1 cannot make
 * atomic. A payment recorded before the method was stored stays without one: nothing updates a document.
 *
 * Because a stored document never changes, a payment this process inserted or read is kept in memory
 * (bounded, least recently used out first): every replica's copy stays true, and a provider's
 * notification, its retries and the refund results that follow cost no read. Absence is never cached:
 * a payment not recorded yet may be recorded by another replica a moment later.
 */
export class KnownPaymentsRepository implements KnownPayments {
  private readonly model;
  private readonly arrivals = new Arrivals();
  private readonly cached: LRUCache<string, KnownPayment>;

  constructor(connection: Connection, cacheSize = KNOWN_PAYMENTS_CACHED) {
    this.model = connection.model<KnownPaymentDocument>('KnownPayment', schema);
    this.cached = new LRUCache({ max: cacheSize });
  }

  async get(paymentId: string): Promise<KnownPayment | null> {
    const cached = this.cached.get(paymentId);
    if (cached) return { ...cached };
    const document = await this.model.findById(paymentId).lean<KnownPaymentDocument>();
    if (!document) return null;
    const known: KnownPayment = { id: document._id, amountMinor: document.amount_minor, currency: document.currency };
    // Written only from a validated payment.created. Only an absent method skips the provider check: any
    // value present, even one this version does not know, must name the notifying provider.
    if (document.method !== undefined) known.method = document.method as PaymentMethod;
    this.cached.set(paymentId, known);
    return { ...known };
  }

  async recordCreated(payment: KnownPayment): Promise<void> {
    try {
      await this.model.collection.insertOne({
        _id: payment.id as never,
        amount_minor: payment.amountMinor,
        currency: payment.currency,
        ...(payment.method ? { method: payment.method } : {}),
      });
      // This insert is the stored document: the provider's notification then needs no read here.
      this.cached.set(payment.id, { ...payment });
    } catch (error) {
      // Stored before (perhaps differently, by an older gateway): what is kept is what a read returns.
      if (!isDuplicateKeyError(error)) throw error;
    }
    this.arrivals.announce(payment.id);
  }

  nextRecorded(paymentId: string, maxMs: number, signal: AbortSignal): Promise<void> {
    return this.arrivals.next(paymentId, maxMs, signal);
  }
}
