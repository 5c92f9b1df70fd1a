import type { EventEnvelope } from '@pay/contracts';
import type { Payment, PaymentChange, PaymentLogEntry } from './payment';

/** What the use cases need from storage (implemented in data-access/payment-repository.ts). */
export interface PaymentStore {
  /** Runs read → decide → write on one payment with no other writer of it in between. */
  exclusive<T>(id: string, work: () => Promise<T>): Promise<T>;
  /** Inserts a new payment with its events; throws LivePaymentExists when the order already has a live one. */
  insert(payment: Payment, events: EventEnvelope[]): Promise<void>;
  get(id: string): Promise<Payment | null>;
  /**
   * Writes the change and its events in ONE conditional update (only if the payment is still in
   * `change.from`); null when a concurrent writer moved it first.
   */
  apply(payment: Payment, change: PaymentChange, events: EventEnvelope[]): Promise<Payment | null>;
  appendLog(id: string, entry: PaymentLogEntry): Promise<void>;
  openForOrder(orderId: string): Promise<Payment[]>;
  overdue(now: Date, limit: number): Promise<Payment[]>;
  list(filter: { userId?: string; orderId?: string }, page: number, pageSize: number): Promise<{ items: Payment[]; count: number }>;
}
