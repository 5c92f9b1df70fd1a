import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import jwt, { type Algorithm } from 'jsonwebtoken';
import { z } from 'zod';
import { roleSchema, type Identity } from '@pay/contracts';
import { Unauthorized } from '@pay/errors';

export type VerifierConfig = { algorithm: 'HS256'; secret: string } | { algorithm: 'RS256'; publicKey: string };

const claimsSchema = z.object({ sub: z.string().min(1).max(128), role: roleSchema });

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
 * Verifies a bearer JWT with ONE pinned algorithm (no `alg: none`, no HS/RS confusion: an RS256 public
 * key is never used as an HMAC secret). Expiry is enforced; `sub` and `role` are required.
 */
export function createTokenVerifier(config: VerifierConfig) {
  const key = config.algorithm === 'HS256' ? hmacKey(config.secret) : publicKey(config.publicKey);
  const algorithms: Algorithm[] = [config.algorithm];
  return function verifyToken(token: string): Identity {
    let payload: unknown;
    try {
      payload = jwt.verify(token, key, { algorithms, clockTolerance: 5 });
    } catch (error) {
      throw new Unauthorized(`invalid token: ${(error as Error).message}`);
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) throw new Unauthorized('token lacks a valid sub and role');
    return { sub: claims.data.sub, role: claims.data.role };
  };
}

export type TokenVerifier = ReturnType<typeof createTokenVerifier>;

/** Signs a public-API token (dev tool, tests). Production tokens come from the identity provider. */
export function signToken(identity: Identity, secret: string, expiresIn: jwt.SignOptions['expiresIn'] = '12h'): string {
  return jwt.sign({ role: identity.role }, hmacKey(secret), { algorithm: 'HS256', subject: identity.sub, expiresIn });
}

export function bearerToken(header: string | undefined): string {
  // The scheme name is case-insensitive (RFC 7235); the token itself is taken exactly.
  const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header ?? '');
  if (!match?.[1]) throw new Unauthorized('missing bearer token');
  return match[1];
}

const INTERNAL_AUDIENCE = 'payments-internal';
const INTERNAL_ISSUER = 'api-gateway';

/**
 * Identity from the API gateway to an internal service: a 60-second HS256 token signed with
 * INTERNAL_TOKEN_SECRET. A client cannot forge it; internal services accept nothing else.
 */
export function signInternalIdentity(identity: Identity, secret: string): string {
  return jwt.sign({ role: identity.role }, hmacKey(secret), {
    algorithm: 'HS256',
    subject: identity.sub,
    audience: INTERNAL_AUDIENCE,
    issuer: INTERNAL_ISSUER,
    expiresIn: 60,
  });
}

export function verifyInternalIdentity(token: string, secret: string): Identity {
  let payload: unknown;
  try {
    payload = jwt.verify(token, hmacKey(secret), { algorithms: ['HS256'], audience: INTERNAL_AUDIENCE, issuer: INTERNAL_ISSUER, clockTolerance: 5 });
  } catch (error) {
    throw new Unauthorized(`invalid internal identity: ${(error as Error).message}`);
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success) throw new Unauthorized('internal identity lacks sub and role');
  return claims.data;
}
export * from './express';
