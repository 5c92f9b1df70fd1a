/**
 * Whether the payment service's view of orders (`known_orders`, fed by `order.created`) may still be
 * missing orders that exist: order events delivered to us but not yet recorded. It lets a create tell
 * "no such order" (404) from "not known yet" (503, retry) once it has waited for an order in vain.
 */
export interface OrderViewLag {
  /**
   * True while order events that reached the service are still unprocessed (or when that cannot be
   * told: unknown counts as behind, so a lagging view is never answered "not found"). Looks at the
   * state from the moment of the call on: what it says covers every event delivered before it.
   */
  isBehind(): Promise<boolean>;
}

/** For callers without a broker (benchmarks, tests of other rules): the view is taken as caught up. */
export const VIEW_CAUGHT_UP: OrderViewLag = { isBehind: async () => false };
