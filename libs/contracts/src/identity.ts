import { z } from 'zod';

/** Roles of the public API (JWT `role` claim). */
export const roleSchema = z.enum(['customer', 'admin', 'auditor']);
export type Role = z.infer<typeof roleSchema>;

export interface Identity {
  sub: string;
  role: Role;
}

/** Header carrying the gateway-signed identity to internal services (a short-lived HS256 JWT). */
export const INTERNAL_IDENTITY_HEADER = 'x-internal-identity';
export const REQUEST_ID_HEADER = 'x-request-id';
/** A client-chosen key that makes a create safe to retry (the same key never creates twice). */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
