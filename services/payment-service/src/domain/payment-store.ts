import type { AggregateRepository } from '@pay/aggregate';
import type { Payment, PaymentAggregate } from './payment';

/** What the use cases need from storage (implemented in data-access/payment-repository.ts). */
export interface PaymentStore extends AggregateRepository<PaymentAggregate> {
  /** Stores a new payment with its events; throws LivePaymentExists when the order already has a live one. */
  insert(payment: PaymentAggregate): Promise<void>;
  /** The payment as stored, for views. */
  get(id: string): Promise<Payment | null>;
  openForOrder(orderId: string): Promise<Payment[]>;
  overdue(now: Date, limit: number): Promise<Payment[]>;
  /** Processing payments whose provider query is due (next_query_at ≤ now), oldest first. */
  dueForQuery(now: Date, limit: number): Promise<Payment[]>;
  /** Payments with a refund whose provider query is due (pending or needs_attention), oldest first. */
  refundsDue(now: Date, limit: number): Promise<Payment[]>;
  list(filter: { userId?: string; orderId?: string }, page: number, pageSize: number): Promise<{ items: Payment[]; count: number }>;
}
