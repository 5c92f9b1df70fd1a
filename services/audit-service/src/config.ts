import { z } from 'zod';
import { commonEnv, metricsPort, port, secret } from '@pay/config';

export const auditConfigSchema = z.object({
  ...commonEnv,
  AUDIT_PORT: port(8084),
  METRICS_PORT: metricsPort(9084),
  /** HMAC key of the hash chain (keep it for the life of the chain); unset: plain SHA-256. */
  AUDIT_CHAIN_KEY: secret(32).optional(),
  /** Records between chain checkpoints: verify walks about this many plus what was appended since. */
  AUDIT_CHECKPOINT_EVERY: z.coerce.number().int().min(10).max(1_000_000).default(500),
  /** Records between anchors (`audit.checkpoint` events kept by the order-service): the writer of every such seq publishes one. */
  AUDIT_ANCHOR_EVERY: z.coerce.number().int().min(1).max(1_000_000).default(100),
  /** Seconds between each replica's anchoring of the head when it moved: bounds how long a tail stays unanchored. */
  AUDIT_ANCHOR_INTERVAL_S: z.coerce.number().int().min(1).max(86_400).default(60),
  /**
   * Least milliseconds between two appends of the chain (a commit delay): under load the events of that
   * interval go in one run, each run costing an insert, a head advance and a fold (the day, the touched
   * reconciliation rows, the fold cursor) whatever its length. A quiet chain appends at once; 0: never wait.
   */
  AUDIT_APPEND_INTERVAL_MS: z.coerce.number().int().min(0).max(1000).default(100),
  /** Unacked deliveries in hand: the events appended together in one run of the chain (group commit). */
  CONSUMER_PREFETCH: z.coerce.number().int().min(1).max(500).default(100),
});
export type AuditConfig = z.infer<typeof auditConfigSchema>;
