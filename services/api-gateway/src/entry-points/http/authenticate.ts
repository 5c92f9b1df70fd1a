import type { RequestHandler } from 'express';
import { bearerToken, type TokenVerifier } from '@pay/auth';
import type { Role } from '@pay/contracts';
import { Forbidden } from '@pay/errors';

/** 401 without a valid bearer token (pinned algorithm, expiry, sub and role required). */
export function authenticate(verify: TokenVerifier): RequestHandler {
  return (req, res, next) => {
    try {
      res.locals.identity = verify(bearerToken(req.header('authorization')));
      next();
    } catch (error) {
      next(error);
    }
  };
}

/** 403 for a role that may not use this part of the API. */
export function allowRoles(...roles: Role[]): RequestHandler {
  return (_req, res, next) => {
    const role = (res.locals.identity as { role: Role }).role;
    next(roles.includes(role) ? undefined : new Forbidden(`role ${role} may not use this resource`));
  };
}
