import type { Logger } from '@pay/logger';
import { IllegalTransition } from '@pay/errors';
import { expirePayment } from './payment-moves';
import type { PaymentStore } from './payment-store';

/** The sweeper's pass: every open payment past `expires_at` becomes expired (emits payment.expired). */
export async function expireOverduePayments(store: PaymentStore, logger: Logger, now = new Date(), limit = 100): Promise<number> {
  let expired = 0;
  for (const payment of await store.overdue(now, limit)) {
    try {
      await expirePayment(store, payment.id, 'system:sweeper', { producer: 'payment-service' });
      expired++;
    } catch (error) {
      // It moved on meanwhile (succeeded, cancelled): nothing to expire.
      if (!(error instanceof IllegalTransition)) throw error;
    }
  }
  if (expired > 0) logger.info('expired overdue payments', { count: expired });
  return expired;
}
