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

/**
 * The gateway's projection of payments from payment.created. Insert-only: the unique `_id` makes a
 * duplicate (redelivery, replay) a no-op without any read-modify-write, which FerretDB v1 cannot make
 * atomic. A payment recorded before the method was stored stays without one: nothing updates a document.
 */
export class KnownPaymentsRepository implements KnownPayments {
  private readonly model;
  private readonly arrivals = new Arrivals();

  constructor(connection: Connection) {
    this.model = connection.model<KnownPaymentDocument>('KnownPayment', schema);
  }

  async get(paymentId: string): Promise<KnownPayment | null> {
    const document = await this.model.findById(paymentId).lean<KnownPaymentDocument>();
    if (!document) return null;
    const known: KnownPayment = { id: document._id, amountMinor: document.amount_minor, currency: document.currency };
    // Written only from a validated payment.created. Only an absent method skips the provider check: any
    // value present, even one this version does not know, must name the notifying provider.
    if (document.method !== undefined) known.method = document.method as PaymentMethod;
    return known;
  }

  async recordCreated(payment: KnownPayment): Promise<void> {
    try {
      await this.model.collection.insertOne({
        _id: payment.id as never,
        amount_minor: payment.amountMinor,
        currency: payment.currency,
        ...(payment.method ? { method: payment.method } : {}),
      });
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
    this.arrivals.announce(payment.id);
  }

  nextRecorded(paymentId: string, maxMs: number, signal: AbortSignal): Promise<void> {
    return this.arrivals.next(paymentId, maxMs, signal);
  }
}
