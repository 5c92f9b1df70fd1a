import { Schema, type Connection } from 'mongoose';
import { Arrivals } from '@pay/arrivals';
import { isDuplicateKeyError } from '@pay/db';
import type { KnownPayment, KnownPayments } from '../domain/known-payments';

interface KnownPaymentDocument {
  _id: string;
  amount_minor: number;
  currency: string;
}

const schema = new Schema<KnownPaymentDocument>(
  {
    _id: { type: String },
    amount_minor: { type: Number, required: true },
    currency: { type: String, required: true },
  },
  { collection: 'known_payments', versionKey: false },
);

/**
 * The gateway's projection of payments from payment.created. Insert-only: the unique `_id` makes a
 * duplicate (redelivery, replay) a no-op without any read-modify-write, which FerretDB v1 cannot make
 * atomic.
 */
export class KnownPaymentsRepository implements KnownPayments {
  private readonly model;
  private readonly arrivals = new Arrivals();

  constructor(connection: Connection) {
    this.model = connection.model<KnownPaymentDocument>('KnownPayment', schema);
  }

  async get(paymentId: string): Promise<KnownPayment | null> {
    const document = await this.model.findById(paymentId).lean<KnownPaymentDocument>();
    return document ? { id: document._id, amountMinor: document.amount_minor, currency: document.currency } : null;
  }

  async recordCreated(payment: KnownPayment): Promise<void> {
    try {
      await this.model.collection.insertOne({ _id: payment.id as never, amount_minor: payment.amountMinor, currency: payment.currency });
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
    this.arrivals.announce(payment.id);
  }

  nextRecorded(paymentId: string, maxMs: number, signal: AbortSignal): Promise<void> {
    return this.arrivals.next(paymentId, maxMs, signal);
  }
}
