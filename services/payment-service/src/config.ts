import { z } from 'zod';
import { booleanFlag, commonEnv, port } from '@pay/config';

export const paymentConfigSchema = z.object({
  ...commonEnv,
  PAYMENT_PORT: port(8083),
  /** Default payment lifetime (the original's 30 minutes). */
  PAYMENT_TTL_MINUTES: z.coerce.number().int().min(1).max(1440).default(30),
  /** Lets a customer drive succeed/fail without a provider (demos, sandbox); admin can always. */
  PAYMENT_SANDBOX: booleanFlag(false),
  EXPIRY_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  /** How long create waits for an order.created not yet received. */
  ORDER_WAIT_MS: z.coerce.number().int().min(0).max(30_000).default(3000),
  /**
   * Deliveries of its queue the service holds at once (unacknowledged, per replica). Each handler is a
   * few database round trips that mostly wait in the connection pool's queue, shared with the HTTP
   * requests; with the broker's default of 10 a burst of order.created piled up in the queue behind the
   * very creates waiting for it. 100 takes a burst in at once (its events queue for the pool alongside
   * the requests); the view's lag check counts them as in hand (entry-points/messaging/in-hand-deliveries.ts).
   */
  CONSUMER_PREFETCH: z.coerce.number().int().min(1).max(500).default(100),
});
export type PaymentConfig = z.infer<typeof paymentConfigSchema>;
