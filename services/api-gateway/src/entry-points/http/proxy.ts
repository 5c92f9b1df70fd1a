import type { Request, RequestHandler, Response } from 'express';
import { signInternalIdentity, identityOf } from '@pay/auth';
import { INTERNAL_IDENTITY_HEADER, REQUEST_ID_HEADER } from '@pay/contracts';
import { Unavailable } from '@pay/errors';
import type { Logger } from '@pay/logger';

export interface ProxyOptions {
  target: string;
  internalSecret: string;
  timeoutMs: number;
  logger: Logger;
}

/**
 * Forwards an authenticated request to an internal service with the identity signed by the gateway
 * (the client's own headers other than content type are not passed on), and relays the answer.
 */
export function forwardTo({ target, internalSecret, timeoutMs, logger }: ProxyOptions): RequestHandler {
  return async (req: Request, res: Response) => {
    const identity = identityOf(res);
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    let upstream: globalThis.Response;
    try {
      upstream = await fetch(`${target}${req.originalUrl}`, {
        method: req.method,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          [REQUEST_ID_HEADER]: res.locals.requestId as string,
          [INTERNAL_IDENTITY_HEADER]: signInternalIdentity(identity, internalSecret),
        },
        body: hasBody ? JSON.stringify(req.body ?? {}) : undefined,
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'manual',
      });
    } catch (error) {
      logger.error('upstream unreachable', { target, error: (error as Error).message });
      throw new Unavailable('a backing service is unavailable; retry later');
    }
    const contentType = upstream.headers.get('content-type') ?? 'application/json';
    const disposition = upstream.headers.get('content-disposition');
    res.status(upstream.status).type(contentType);
    if (disposition) res.setHeader('content-disposition', disposition);
    res.send(Buffer.from(await upstream.arrayBuffer()));
  };
}
