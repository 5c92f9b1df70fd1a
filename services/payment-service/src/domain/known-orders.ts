/**
 * The payment service's own view of orders, built from order events (the services share no database
 * and coordinate only through events).
 */
export interface KnownOrder {
  id: string;
  orderNumber: string;
  userId: string;
  amountMinor: number;
  currency: string;
  status: 'pending_payment' | 'cancelled';
}

export interface KnownOrders {
  get(orderId: string): Promise<KnownOrder | null>;
  /** order.created: insert; never regresses a cancellation that arrived first. */
  recordCreated(order: Omit<KnownOrder, 'status'>): Promise<void>;
  recordCancelled(orderId: string): Promise<void>;
  /**
   * Resolves when this process next records `orderId` as created, after `maxMs` at the latest (another
   * replica may record it), or when `signal` aborts; never rejects. Lets a waiting request sleep
   * instead of polling the database.
   */
  nextRecorded(orderId: string, maxMs: number, signal: AbortSignal): Promise<void>;
}
