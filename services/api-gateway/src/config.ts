import { z } from 'zod';
import { DEFAULT_MAX_TOKEN_TTL_S } from '@pay/auth';
import { commonEnv, internalTokenEnv, metricsPort, optionalVariable, port, secret, url } from '@pay/config';

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
    /** The gateway signs each forwarded request's identity token for the target service with it. */
    ...internalTokenEnv,
    GATEWAY_PORT: port(8080),
    METRICS_PORT: metricsPort(9080),
    /** HS256 verification key for public tokens (set this OR JWT_PUBLIC_KEY). */
    JWT_SECRET: secret(32).optional(),
    /** RS256 public key (PEM) for public tokens (set this OR JWT_SECRET). */
    JWT_PUBLIC_KEY: z
      .string()
      .transform((value) => value.replace(/\\n/g, '\n'))
      .refine((value) => value.includes('-----BEGIN PUBLIC KEY-----'), 'must be a PEM public key')
      .optional(),
    /** Longest public-token lifetime accepted (exp − iat, or exp − now without iat); `exp` is always required. */
    JWT_MAX_TTL_S: z.coerce.number().int().min(60).max(30 * 86_400).default(DEFAULT_MAX_TOKEN_TTL_S),
    /** When set, a public token's `aud` must name it. */
    JWT_AUDIENCE: optionalVariable(z.string().min(1).max(256)),
    /** When set, a public token's `iss` must be it. */
    JWT_ISSUER: optionalVariable(z.string().min(1).max(256)),
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
    // With one key for both, a client holding a public token's key could mint internal identities, and the
    // other way round: the two must differ.
    if (config.JWT_SECRET !== undefined && config.JWT_SECRET === config.INTERNAL_TOKEN_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'must differ from INTERNAL_TOKEN_SECRET (JWT_SECRET and INTERNAL_TOKEN_SECRET are the same value)' });
    }
  });
export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
