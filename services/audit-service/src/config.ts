import { z } from 'zod';
import { commonEnv, port, secret } from '@pay/config';

export const auditConfigSchema = z.object({
  ...commonEnv,
  AUDIT_PORT: port(8084),
  /** HMAC key of the hash chain (keep it for the life of the chain); unset: plain SHA-256. */
  AUDIT_CHAIN_KEY: secret(32).optional(),
  /** Records between chain checkpoints: verify walks about this many plus what was appended since. */
  AUDIT_CHECKPOINT_EVERY: z.coerce.number().int().min(10).max(1_000_000).default(500),
});
export type AuditConfig = z.infer<typeof auditConfigSchema>;
