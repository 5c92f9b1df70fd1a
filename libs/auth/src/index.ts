import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import jwt, { type Algorithm } from 'jsonwebtoken';
import { z } from 'zod';
import { roleSchema, type Identity } from '@pay/contracts';
import { Unauthorized } from '@pay/errors';

/** Longest public-token lifetime accepted when the configuration names none (JWT_MAX_TTL_S). */
export const DEFAULT_MAX_TOKEN_TTL_S = 86_400;

/**
 * The audience and issuer the dev stack, compose and the k8s manifests configure (JWT_AUDIENCE,
 * JWT_ISSUER) and the dev tools sign (`npm run token`, the test harness): a deployment whose tokens come
 * from a real identity provider sets its own.
 */
export const DEV_JWT_AUDIENCE = 'payments-api';
export const DEV_JWT_ISSUER = 'payments-identity';

/** What a public token must satisfy besides its signature: the lifetime cap and, when set, aud and iss. */
export interface TokenPolicy {
  /** Longest accepted lifetime in seconds: exp − iat, or exp − now without iat (default 86400). */
  maxTtlSeconds?: number;
  /** Required `aud` when set. */
  audience?: string;
  /** Required `iss` when set. */
  issuer?: string;
}

export type VerifierConfig = ({ algorithm: 'HS256'; secret: string } | { algorithm: 'RS256'; publicKey: string }) & TokenPolicy;

const claimsSchema = z.object({ sub: z.string().min(1).max(128), role: roleSchema });

/** Seconds of clock skew tolerated between the token's issuer and us. */
const CLOCK_TOLERANCE_S = 5;

/**
 * jsonwebtoken turns a string key into a KeyObject on every sign and verify, first trying to parse an
 * HMAC secret as a PEM private and public key (and failing): profiled, that was 39% of the API gateway's
 * CPU and ~9% of each internal service's. So each key is made a KeyObject once. A process knows only a
 * handful of keys, so the cache stays tiny.
 */
const keyObjects = new Map<string, KeyObject>();
function hmacKey(secret: string): KeyObject {
  let key = keyObjects.get(secret);
  if (!key) keyObjects.set(secret, (key = createSecretKey(Buffer.from(secret, 'utf8'))));
  return key;
}
function publicKey(pem: string): KeyObject {
  let key = keyObjects.get(pem);
  if (!key) keyObjects.set(pem, (key = createPublicKey(pem)));
  return key;
}

/**
 * jsonwebtoken checks `exp` only when a token has one: a token without it would be valid forever. So
 * `exp` is required here, and the lifetime is capped: measured from `iat`, or from now when `iat` is
 * missing or lies in the future (a future `iat` must not stretch the window).
 */
function checkLifetime(payload: jwt.JwtPayload, maxTtlSeconds: number): string | null {
  if (typeof payload.exp !== 'number') return 'exp is required';
  const now = Math.floor(Date.now() / 1000);
  const from = typeof payload.iat === 'number' ? Math.min(payload.iat, now) : now;
  if (payload.exp - from > maxTtlSeconds + CLOCK_TOLERANCE_S) return `lifetime exceeds ${maxTtlSeconds} s`;
  return null;
}

/** Verifies signature (one algorithm), exp/nbf, the given aud/iss, exp present and the lifetime cap. */
function verifyClaims(token: string, key: KeyObject, algorithm: Algorithm, policy: Required<Pick<TokenPolicy, 'maxTtlSeconds'>> & TokenPolicy): jwt.JwtPayload {
  const payload = jwt.verify(token, key, {
    algorithms: [algorithm],
    clockTolerance: CLOCK_TOLERANCE_S,
    ...(policy.audience !== undefined ? { audience: policy.audience } : {}),
    ...(policy.issuer !== undefined ? { issuer: policy.issuer } : {}),
  });
  if (typeof payload === 'string') throw new Error('payload is not a JSON object');
  const problem = checkLifetime(payload, policy.maxTtlSeconds);
  if (problem) throw new Error(problem);
  return payload;
}

/**
 * Verifies a bearer JWT with ONE pinned algorithm (no `alg: none`, no HS/RS confusion: an RS256 public
 * key is never used as an HMAC secret). `exp` is required and the lifetime capped; `aud` and `iss` are
 * checked when configured; `sub` and `role` are required.
 */
export function createTokenVerifier(config: VerifierConfig) {
  const key = config.algorithm === 'HS256' ? hmacKey(config.secret) : publicKey(config.publicKey);
  const policy = { maxTtlSeconds: config.maxTtlSeconds ?? DEFAULT_MAX_TOKEN_TTL_S, audience: config.audience, issuer: config.issuer };
  return function verifyToken(token: string): Identity {
    let payload: jwt.JwtPayload;
    try {
      payload = verifyClaims(token, key, config.algorithm, policy);
    } catch (error) {
      throw new Unauthorized(`invalid token: ${(error as Error).message}`);
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) throw new Unauthorized('token lacks a valid sub and role');
    return { sub: claims.data.sub, role: claims.data.role };
  };
}

export type TokenVerifier = ReturnType<typeof createTokenVerifier>;

/**
 * Signs a public-API token (dev tool, tests). Production tokens come from the identity provider. Signs
 * the dev audience and issuer unless told otherwise (`null`: leave the claim out).
 */
export function signToken(
  identity: Identity,
  secret: string,
  expiresIn: jwt.SignOptions['expiresIn'] = '12h',
  claims: { audience?: string | null; issuer?: string | null } = {},
): string {
  const audience = claims.audience === undefined ? DEV_JWT_AUDIENCE : claims.audience;
  const issuer = claims.issuer === undefined ? DEV_JWT_ISSUER : claims.issuer;
  return jwt.sign({ role: identity.role }, hmacKey(secret), {
    algorithm: 'HS256',
    subject: identity.sub,
    expiresIn,
    ...(audience !== null ? { audience } : {}),
    ...(issuer !== null ? { issuer } : {}),
  });
}

export function bearerToken(header: string | undefined): string {
  // The scheme name is case-insensitive (RFC 7235); the token itself is taken exactly.
  const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header ?? '');
  if (!match?.[1]) throw new Unauthorized('missing bearer token');
  return match[1];
}

/** The services that accept the gateway's identity tokens: a token's audience is exactly one of them. */
export const INTERNAL_AUDIENCES = ['order-service', 'payment-service', 'audit-service'] as const;
export type InternalAudience = (typeof INTERNAL_AUDIENCES)[number];
export const isInternalAudience = (name: string): name is InternalAudience => (INTERNAL_AUDIENCES as readonly string[]).includes(name);

/** The one request an internal identity token is good for: which service, HTTP method and path (+ query). */
export interface InternalBinding {
  audience: InternalAudience;
  method: string;
  /** The request target as the service receives it: path and query string, e.g. `/api/v1/orders?page=2`. */
  path: string;
}

const INTERNAL_ISSUER = 'api-gateway';
/** Lifetime of the tokens the gateway signs: one request, a little clock skew and the upstream timeout. */
export const INTERNAL_TOKEN_TTL_S = 30;
/** Longest lifetime a service accepts (a token minted to live longer is refused, whoever signed it). */
const INTERNAL_TOKEN_MAX_TTL_S = 60;

const internalClaimsSchema = claimsSchema.extend({ method: z.string(), path: z.string() });

/**
 * Identity from the API gateway to one internal service, for one request: an HS256 token signed with
 * INTERNAL_TOKEN_SECRET per forwarded request, `aud` the target service, the `method` and `path` it
 * forwards, `exp` 30 s on. A client cannot forge it; a token for one service, method or path is refused
 * for any other. Within its 30 s the same request (method + path) can be replayed by someone who saw
 * the token on the internal network.
 */
export function signInternalIdentity(identity: Identity, secret: string, binding: InternalBinding): string {
  return jwt.sign({ role: identity.role, method: binding.method.toUpperCase(), path: binding.path }, hmacKey(secret), {
    algorithm: 'HS256',
    subject: identity.sub,
    audience: binding.audience,
    issuer: INTERNAL_ISSUER,
    expiresIn: INTERNAL_TOKEN_TTL_S,
  });
}

/** The identity in an internal token, if it was signed for exactly this service, method and path. */
export function verifyInternalIdentity(token: string, secret: string, expected: InternalBinding): Identity {
  let payload: jwt.JwtPayload;
  try {
    payload = verifyClaims(token, hmacKey(secret), 'HS256', { audience: expected.audience, issuer: INTERNAL_ISSUER, maxTtlSeconds: INTERNAL_TOKEN_MAX_TTL_S });
  } catch (error) {
    throw new Unauthorized(`invalid internal identity: ${(error as Error).message}`);
  }
  const claims = internalClaimsSchema.safeParse(payload);
  if (!claims.success) throw new Unauthorized('internal identity lacks sub, role, method and path');
  // One audience, not a list naming several services.
  if (payload.aud !== expected.audience) throw new Unauthorized('internal identity was signed for another service');
  if (claims.data.method !== expected.method.toUpperCase() || claims.data.path !== expected.path) {
    throw new Unauthorized('internal identity was signed for another request');
  }
  return { sub: claims.data.sub, role: claims.data.role };
}
export * from './express';
