import { z } from 'zod';
import { commonEnv, port, secret, url } from '@pay/config';

const httpUrl = url(['http', 'https']);

/** Most replicas of one service the gateway balances over. */
export const MAX_UPSTREAM_REPLICAS = 16;

/**
 * An internal service's base URL, or a comma-separated list of them (its replicas: the gateway balances
 * over them round-robin). Parsed to the list; each entry must be an http(s) URL, 1..16 of them.
 */
const upstreamUrls = (fallback: string) =>
  z
    .string()
    .transform((value) => value.split(',').map((entry) => entry.trim().replace(/\/+$/, '')))
    .pipe(
      z
        .array(httpUrl)
        .min(1)
        .max(MAX_UPSTREAM_REPLICAS, `at most ${MAX_UPSTREAM_REPLICAS} comma-separated base URLs`),
    )
    .prefault(fallback);

export const gatewayConfigSchema = z
  .object({
    ...commonEnv,
    GATEWAY_PORT: port(8080),
    /** HS256 verification key for public tokens (set this OR JWT_PUBLIC_KEY). */
    JWT_SECRET: secret(32).optional(),
    /** RS256 public key (PEM) for public tokens (set this OR JWT_SECRET). */
    JWT_PUBLIC_KEY: z
      .string()
      .transform((value) => value.replace(/\\n/g, '\n'))
      .refine((value) => value.includes('-----BEGIN PUBLIC KEY-----'), 'must be a PEM public key')
      .optional(),
    ORDER_SERVICE_URL: upstreamUrls('http://127.0.0.1:8082'),
    PAYMENT_SERVICE_URL: upstreamUrls('http://127.0.0.1:8083'),
    AUDIT_SERVICE_URL: upstreamUrls('http://127.0.0.1:8084'),
    /** Requests per minute per authenticated user. */
    RATE_LIMIT_PER_USER: z.coerce.number().int().min(1).max(100_000).default(300),
    /** Requests per minute per client IP (before authentication). */
    RATE_LIMIT_PER_IP: z.coerce.number().int().min(1).max(100_000).default(600),
    /** Number of proxies in front of the gateway whose X-Forwarded-For is trusted (0: none). */
    TRUST_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
    UPSTREAM_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(15_000),
  })
  .superRefine((config, ctx) => {
    // The algorithm is pinned by configuration: exactly one key kind.
    if (!config.JWT_SECRET === !config.JWT_PUBLIC_KEY) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'set exactly one of JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256)' });
    }
  });
export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
