import type { RequestHandler, Response } from 'express';
import { INTERNAL_IDENTITY_HEADER, type Identity } from '@pay/contracts';
import { Unauthorized } from '@pay/errors';
import { verifyInternalIdentity, type InternalAudience } from './index';

/**
 * Internal services: every /api route needs the gateway-signed identity for THIS service (`audience`),
 * signed for this very request: its method and its path with the query (`originalUrl`, as received).
 */
export function requireInternalIdentity(options: { secret: string; audience: InternalAudience }): RequestHandler {
  return (req, res, next) => {
    const token = req.header(INTERNAL_IDENTITY_HEADER);
    if (!token) return next(new Unauthorized('missing internal identity'));
    try {
      res.locals.identity = verifyInternalIdentity(token, options.secret, { audience: options.audience, method: req.method, path: req.originalUrl });
      next();
    } catch (error) {
      next(error);
    }
  };
}

export function identityOf(res: Response): Identity {
  const identity = res.locals.identity as Identity | undefined;
  if (!identity) throw new Unauthorized('no identity');
  return identity;
}
