import { z } from 'zod';
import { commonEnv, port } from '@pay/config';

export const auditConfigSchema = z.object({ ...commonEnv, AUDIT_PORT: port(8084) });
export type AuditConfig = z.infer<typeof auditConfigSchema>;
