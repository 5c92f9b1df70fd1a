import type { EventHandlers } from '@pay/messaging';
import type { KnownPayments } from '../../domain/known-payments';
import type { callbackGatewayEvents } from '../../events';

/** Thin: the broker validated the event and routes it by type; the only effect is an insert-once keyed by the payment id. */
export function callbackGatewayEventHandlers(payments: KnownPayments): EventHandlers<typeof callbackGatewayEvents> {
  return {
    'payment.created': async (event) => {
      await payments.recordCreated({ id: event.data.paymentId, amountMinor: event.data.amountMinor, currency: event.data.currency, method: event.data.method });
    },
  };
}
