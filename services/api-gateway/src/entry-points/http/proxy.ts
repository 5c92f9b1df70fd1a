import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Request, RequestHandler, Response } from 'express';
import { signInternalIdentity, identityOf, type InternalAudience } from '@pay/auth';
import { IDEMPOTENCY_KEY_HEADER, INTERNAL_IDENTITY_HEADER, REQUEST_ID_HEADER } from '@pay/contracts';
import { BadInput, Unavailable } from '@pay/errors';
import type { Logger } from '@pay/logger';
import { rawBodyOf } from '@pay/http';

/**
 * Service answer headers a client needs (CSV download name, idempotent replay, when to retry a 503);
 * nothing else leaks.
 */
const RELAYED_RESPONSE_HEADERS = ['content-disposition', 'idempotent-replayed', 'retry-after'];

export interface ProxyOptions {
  /** The owning service's replicas (base URLs): requests go round-robin over them. */
  targets: readonly string[];
  /** The path family this route owns under the router's base, e.g. `/orders`: forwarding never leaves it. */
  family: string;
  /** The owning service: the audience of the identity token each forwarded request carries. */
  service: InternalAudience;
  internalSecret: string;
  timeoutMs: number;
  logger: Logger;
  /** Headers this route adds for the service (e.g. the audit anchor for verify); its failure answers as it throws. */
  addHeaders?: (res: Response) => Promise<OutgoingHttpHeaders>;
  /** A route's last word on the service's answer before it is relayed (e.g. a 404 that only means "not yet"). */
  reviseAnswer?: (req: Request, res: Response, answer: UpstreamAnswer) => Promise<UpstreamAnswer>;
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
 * Round-robin over one service's replicas. Each request starts at the next replica and, only when a
 * replica provably never received it (see `neverReached`), moves on to the following one.
 */
export class UpstreamPool {
  private next = 0;
  readonly origins: readonly string[];

  constructor(targets: readonly string[]) {
    if (targets.length === 0) throw new Error('an upstream pool needs at least one target');
    this.origins = targets.map((target) => target.replace(/\/+$/, ''));
  }

  /** The replicas to try for one request, in order: the next one in turn first, then the others. */
  attemptOrder(): string[] {
    const start = this.next;
    this.next = (this.next + 1) % this.origins.length;
    return this.origins.map((_, i) => this.origins[(start + i) % this.origins.length]!);
  }
}

export interface UpstreamAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** An upstream failure, with whether the TCP connection to the replica had been established. */
type UpstreamError = NodeJS.ErrnoException & { connected?: boolean };

/**
 * True only when the request cannot have reached the replica: the connection was refused, or reset
 * before it was established (nothing of the request was sent). Then even a POST may go to another
 * replica. Anything else (a reset after connecting, a kept-alive socket, a timeout, a broken answer)
 * may have been acted on, and a non-idempotent request is never risked twice.
 */
export function neverReached(error: UpstreamError): boolean {
  return error.connected === false && (error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET');
}

// Kept-alive connections to the services; an idle one is dropped before the services' 5 s keep-alive
// timeout (and any shorter one a service announces), so a reused socket is not one being closed.
const httpAgent = new HttpAgent({ keepAlive: true, timeout: 4_000 });
const httpsAgent = new HttpsAgent({ keepAlive: true, timeout: 4_000 });

/** The request target a replica receives: its base URL's path (if any), then the forwarded path and query. */
function targetAt(origin: string, path: string): string {
  return `${new URL(origin).pathname.replace(/\/+$/, '')}${path}`;
}

/** One attempt at one replica; the body is buffered (the gateway has already read it). */
function sendOnce(origin: string, target: string, method: string, headers: OutgoingHttpHeaders, body: Buffer | undefined, signal: AbortSignal): Promise<UpstreamAnswer> {
  return new Promise((resolve, reject) => {
    const base = new URL(origin);
    const secure = base.protocol === 'https:';
    let connected = false;
    let settled = false;
    const settle = (fn: () => void) => {
      if (!settled) {
        settled = true;
        fn();
      }
    };
    const upstream = (secure ? httpsRequest : httpRequest)({
      protocol: base.protocol,
      hostname: base.hostname.replace(/^\[|\]$/g, ''),
      port: base.port || (secure ? 443 : 80),
      path: target,
      method,
      headers: body ? { ...headers, 'content-length': String(body.length) } : headers,
      agent: secure ? httpsAgent : httpAgent,
      signal,
    });
    upstream.on('socket', (socket) => {
      if (!socket.connecting) connected = true; // a kept-alive socket: the request may reach the service
      else socket.once('connect', () => (connected = true));
    });
    upstream.on('error', (error: UpstreamError) => settle(() => reject(Object.assign(error, { connected }))));
    upstream.on('response', (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => settle(() => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) })));
      answer.on('error', (error: UpstreamError) => settle(() => reject(Object.assign(error, { connected: true }))));
      answer.on('aborted', () => settle(() => reject(Object.assign(new Error('upstream answer aborted'), { code: 'ECONNRESET', connected: true }))));
    });
    upstream.end(body);
  });
}

/**
 * Forwards an authenticated request to an internal service with the identity signed by the gateway for
 * that service and this very request (method and path with query; 30 s), so the token opens nothing else
 * (the client's own headers other than content type are not passed on, so a client-sent
 * `x-internal-identity` never reaches a service), and relays the answer. The service's replicas are
 * used round-robin; a replica that refuses the connection is skipped for the next one (the request
 * never reached it), any other failure answers 503 without a retry.
 */
export function forwardTo({ targets, family, service, internalSecret, timeoutMs, logger, addHeaders, reviseAnswer }: ProxyOptions): RequestHandler {
  const pool = new UpstreamPool(targets);
  return async (req: Request, res: Response) => {
    const identity = identityOf(res);
    const path = upstreamPath(req.originalUrl, `${req.baseUrl}${family}`);
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const headers: OutgoingHttpHeaders = {
      'content-type': 'application/json',
      accept: 'application/json',
      [REQUEST_ID_HEADER]: res.locals.requestId as string,
      // The one client header a service needs (retry-safe creates); validated there.
      ...(req.header(IDEMPOTENCY_KEY_HEADER) ? { [IDEMPOTENCY_KEY_HEADER]: req.header(IDEMPOTENCY_KEY_HEADER)! } : {}),
      ...(addHeaders ? await addHeaders(res) : {}),
    };
    // The bytes the client sent (already parsed once as JSON here), never re-serialised: a deeply
    // nested body must reach the service's validation, not overflow JSON.stringify.
    const body = hasBody ? (rawBodyOf(req) ?? Buffer.from('{}')) : undefined;
    // One deadline for the whole request, failovers included.
    const signal = AbortSignal.timeout(timeoutMs);
    let upstream: UpstreamAnswer | undefined;
    for (const origin of pool.attemptOrder()) {
      const target = targetAt(origin, path);
      const identityToken = signInternalIdentity(identity, internalSecret, { audience: service, method: req.method, path: target });
      try {
        upstream = await sendOnce(origin, target, req.method, { ...headers, [INTERNAL_IDENTITY_HEADER]: identityToken }, body, signal);
        break;
      } catch (error) {
        const failure = error as UpstreamError;
        if (neverReached(failure) && !signal.aborted) {
          logger.warn('upstream replica refused the connection; trying the next one', { target: origin, error: failure.code });
          continue;
        }
        logger.error('upstream unreachable', { target: origin, error: failure.message });
        throw new Unavailable('a backing service is unavailable; retry later');
      }
    }
    if (!upstream) {
      logger.error('upstream unreachable', { targets: pool.origins, error: 'every replica refused the connection' });
      throw new Unavailable('a backing service is unavailable; retry later');
    }
    if (reviseAnswer) upstream = await reviseAnswer(req, res, upstream);
    const contentType = upstream.headers['content-type'] ?? 'application/json';
    res.status(upstream.status).type(contentType);
    for (const header of RELAYED_RESPONSE_HEADERS) {
      const value = upstream.headers[header];
      if (value) res.setHeader(header, value);
    }
    res.send(upstream.body);
  };
}
