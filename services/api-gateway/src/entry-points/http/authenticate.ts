import type { RequestHandler } from 'express';
import { bearerToken, createTokenVerifier, type TokenVerifier } from '@pay/auth';
import type { Role } from '@pay/contracts';
import { Forbidden } from '@pay/errors';
import type { GatewayConfig } from '../../config';

/**
 * The public-token verifier the configuration pins: RS256 with JWT_PUBLIC_KEY, else HS256 with JWT_SECRET;
 * `exp` required, lifetime at most JWT_MAX_TTL_S, `aud`/`iss` checked when JWT_AUDIENCE/JWT_ISSUER are set.
 */
export function tokenVerifierFor(config: Pick<GatewayConfig, 'JWT_SECRET' | 'JWT_PUBLIC_KEY' | 'JWT_MAX_TTL_S' | 'JWT_AUDIENCE' | 'JWT_ISSUER'>): TokenVerifier {
  const policy = { maxTtlSeconds: config.JWT_MAX_TTL_S, audience: config.JWT_AUDIENCE, issuer: config.JWT_ISSUER };
  if (config.JWT_PUBLIC_KEY) return createTokenVerifier({ algorithm: 'RS256', publicKey: config.JWT_PUBLIC_KEY, ...policy });
  if (config.JWT_SECRET) return createTokenVerifier({ algorithm: 'HS256', secret: config.JWT_SECRET, ...policy });
  throw new Error('set exactly one of JWT_SECRET or JWT_PUBLIC_KEY');
}

/** 401 without a valid bearer token (pinned algorithm, expiry, sub and role required). */
export function authenticate(verify: TokenVerifier): RequestHandler {
  return (req, res, next) => {
    try {
      res.locals.identity = verify(bearerToken(req.header('authorization')));
      next();
    } catch (error) {
      // RFC 6750: a 401 names the scheme the client must use.
      res.setHeader('WWW-Authenticate', req.header('authorization') ? 'Bearer error="invalid_token"' : 'Bearer');
      next(error);
    }
  };
}

/** 403 for a role that may not use this part of the API. */
export function allowRoles(...roles: readonly Role[]): RequestHandler {
  return (_req, res, next) => {
    const role = (res.locals.identity as { role: Role }).role;
    next(roles.includes(role) ? undefined : new Forbidden(`role ${role} may not use this resource`));
  };
}
