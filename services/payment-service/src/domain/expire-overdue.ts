import type { Logger } from '@pay/logger';
import { changePayment } from './change-payment';
import { OPEN_STATUSES, isExpiredAt } from './payment';
import type { PaymentStore } from './payment-store';

/**
 * The sweeper's pass: every open payment past `expires_at` becomes expired (emits payment.expired).
 * Two replicas sweeping at once decide on the same versions: one writes, the other's write is refused,
 * re-reads an expired payment and leaves it alone, so each payment expires (and its event leaves) once.
 */
export async function expireOverduePayments(store: PaymentStore, logger: Logger, now = new Date(), limit = 100): Promise<number> {
  let expired = 0;
  for (const found of await store.overdue(now, limit)) {
    const { outcome } = await changePayment(store, found.id, (payment) => {
      if (!OPEN_STATUSES.includes(payment.status) || !isExpiredAt(payment.state, now)) return false;
      payment.expire('system:sweeper', { producer: 'payment-service' });
      return true;
    });
    if (outcome) expired++;
  }
  if (expired > 0) logger.info('expired overdue payments', { count: expired });
  return expired;
}
