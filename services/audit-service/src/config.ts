import { z } from 'zod';
import { commonEnv, port, secret } from '@pay/config';

export const auditConfigSchema = z.object({
  ...commonEnv,
  AUDIT_PORT: port(8084),
  /** HMAC key of the hash chain (keep it for the life of the chain); unset: plain SHA-256. */
  AUDIT_CHAIN_KEY: secret(32).optional(),
});
export type AuditConfig = z.infer<typeof auditConfigSchema>;
