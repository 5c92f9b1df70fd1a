import type { Request, RequestHandler, Response } from 'express';
import { signInternalIdentity, identityOf } from '@pay/auth';
import { IDEMPOTENCY_KEY_HEADER, INTERNAL_IDENTITY_HEADER, REQUEST_ID_HEADER } from '@pay/contracts';
import { BadInput, Unavailable } from '@pay/errors';
import type { Logger } from '@pay/logger';
import { rawBodyOf } from '@pay/http';

/** Service answer headers a client needs (CSV download name, idempotent replay); nothing else leaks. */
const RELAYED_RESPONSE_HEADERS = ['content-disposition', 'idempotent-replayed'];

export interface ProxyOptions {
  target: string;
  /** The path family this route owns under the router's base, e.g. `/orders`: forwarding never leaves it. */
  family: string;
  internalSecret: string;
  timeoutMs: number;
  logger: Logger;
}

/**
 * The upstream path and query for a request, exactly as `fetch` will send them. The WHATWG URL parser
 * (the one `fetch` uses) resolves `..`, `%2e%2e` and `\` segments, so the path is normalised here and
 * must still lie inside the route family: `/api/v1/orders/../../../metrics` would otherwise pass the
 * gateway's checks for `/orders` and reach the internal service's `/metrics`. Absolute-form request
 * targets (`GET http://host/...`) keep only their path.
 */
export function upstreamPath(originalUrl: string, familyBase: string): string {
  const parsed = new URL(originalUrl, 'http://gateway.invalid');
  if (parsed.pathname !== familyBase && !parsed.pathname.startsWith(`${familyBase}/`)) {
    throw new BadInput('invalid path', { issues: [{ path: 'path', message: `must stay inside ${familyBase} (no dot segments)`, code: 'custom' }] });
  }
  return `${parsed.pathname}${parsed.search}`;
}

/**
 * Forwards an authenticated request to an internal service with the identity signed by the gateway
 * (the client's own headers other than content type are not passed on, so a client-sent
 * `x-internal-identity` never reaches a service), and relays the answer.
 */
export function forwardTo({ target, family, internalSecret, timeoutMs, logger }: ProxyOptions): RequestHandler {
  const origin = target.replace(/\/+$/, '');
  return async (req: Request, res: Response) => {
    const identity = identityOf(res);
    const path = upstreamPath(req.originalUrl, `${req.baseUrl}${family}`);
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    let upstream: globalThis.Response;
    try {
      upstream = await fetch(`${origin}${path}`, {
        method: req.method,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          [REQUEST_ID_HEADER]: res.locals.requestId as string,
          [INTERNAL_IDENTITY_HEADER]: signInternalIdentity(identity, internalSecret),
          // The one client header a service needs (retry-safe creates); validated there.
          ...(req.header(IDEMPOTENCY_KEY_HEADER) ? { [IDEMPOTENCY_KEY_HEADER]: req.header(IDEMPOTENCY_KEY_HEADER)! } : {}),
        },
        // The bytes the client sent (already parsed once as JSON here), never re-serialised: a deeply
        // nested body must reach the service's validation, not overflow JSON.stringify.
        body: hasBody ? (rawBodyOf(req) ?? '{}') : undefined,
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'manual',
      });
    } catch (error) {
      logger.error('upstream unreachable', { target, error: (error as Error).message });
      throw new Unavailable('a backing service is unavailable; retry later');
    }
    const contentType = upstream.headers.get('content-type') ?? 'application/json';
    res.status(upstream.status).type(contentType);
    for (const header of RELAYED_RESPONSE_HEADERS) {
      const value = upstream.headers.get(header);
      if (value) res.setHeader(header, value);
    }
    res.send(Buffer.from(await upstream.arrayBuffer()));
  };
}
