import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { IncomingMessage } from 'node:http';
import {
  AppError,
  BadInput,
  BusinessRuleViolation,
  Conflict,
  Forbidden,
  NotFound,
  Unauthorized,
  Unavailable,
  UnsupportedMediaType,
} from '@pay/errors';
import { REQUEST_ID_HEADER, type EventOrigin } from '@pay/contracts';
import { withLogContext, type Logger } from '@pay/logger';
import type { ServiceMetrics } from '@pay/metrics';
import { checkReadiness, type Readiness } from './readiness';

export interface HttpAppOptions {
  service: string;
  logger: Logger;
  metrics: ServiceMetrics;
  /** Named dependency checks for /readyz (db, broker); all must be true. */
  readiness: Readiness;
  /** JSON body limit; bodies above it get 413. */
  bodyLimit?: string;
  /** Skip the JSON parser (a route reads the raw body itself, e.g. signed provider callbacks). */
  parseJson?: boolean;
}

/**
 * A client's `x-request-id` is kept (echoed, logged, and the correlation_id of the events the request
 * causes, stored in the audit log) only when it is 1-64 letters, digits or `. _ : -`; anything else
 * (too long, a line break, markup) is replaced by a generated one.
 */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/** The client's request id when acceptable, else a fresh UUID. */
export function requestIdOf(incoming: string | undefined): string {
  return incoming !== undefined && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
}
const JSON_TYPES = ['application/json', 'application/*+json'];

type RequestWithRawBody = IncomingMessage & { rawBody?: Buffer };

/** Events caused by this request: its request id is their correlation id (it starts the chain). */
export function eventOrigin(res: { locals: Record<string, unknown> }, producer: string): EventOrigin {
  return { producer, correlation_id: res.locals.requestId as string, causation_id: null };
}

/** The exact bytes of a JSON body as received (bounded by the body limit), for forwarding unchanged. */
export function rawBodyOf(req: IncomingMessage): Buffer | undefined {
  return (req as RequestWithRawBody).rawBody;
}

/**
 * The express app every service starts from: security headers, request ids in logs and responses,
 * latency metrics, bounded JSON bodies, and /healthz and /readyz (ready or not, without which dependency:
 * this port may be public). `/metrics` and the per-dependency readiness are served on the internal
 * listener only (createInternalApp). Add routes, then call `finishApp` to install the 404 and the one
 * error mapper.
 */
export function createHttpApp(options: HttpAppOptions): Express {
  const { logger, metrics } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple'); // no nested objects from ?a[b]=c: `$` operators cannot arrive as objects
  app.use(helmet());

  app.use((req, res, next) => {
    const requestId = requestIdOf(req.header(REQUEST_ID_HEADER));
    res.locals.requestId = requestId;
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // A fixed label when no route matched (404, or refused before routing): a raw path would let any client
      // create unbounded metric series.
      const route = (req.route?.path as string | undefined) ?? 'unmatched';
      metrics.httpDuration.observe({ method: req.method, route: `${req.baseUrl}${route}`, status: String(res.statusCode) }, seconds);
      if (req.path !== '/healthz' && req.path !== '/readyz') {
        withLogContext({ request_id: requestId }, () =>
          logger.http('request', { method: req.method, path: req.originalUrl.split('?')[0], status: res.statusCode, ms: Math.round(seconds * 1000) }),
        );
      }
    });
    withLogContext({ request_id: requestId, correlation_id: requestId }, next);
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', service: options.service });
  });
  app.get('/readyz', async (_req, res) => {
    const { ready } = await checkReadiness(options.readiness);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready' });
  });

  if (options.parseJson !== false) {
    // A body in any other format would silently become {} and the request would still act: refuse it.
    app.use((req, _res, next) => {
      const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
      next(hasBody && !req.is(JSON_TYPES) ? new UnsupportedMediaType('request body must be application/json') : undefined);
    });
    app.use(
      express.json({
        limit: options.bodyLimit ?? '32kb',
        strict: true,
        type: JSON_TYPES,
        verify: (req, _res, buffer, encoding) => {
          // JSON between systems is UTF-8 (RFC 8259 §8.1). The parser would decode other bytes to U+FFFD
          // (or as the declared charset) and the request would still act, storing text the client never
          // sent; and the gateway forwards these very bytes to the services as UTF-8 JSON.
          if (encoding !== 'utf-8' || !isUtf8(buffer)) throw new BadInput('request body is not valid UTF-8 JSON');
          (req as RequestWithRawBody).rawBody = buffer;
        },
      }),
    );
  }
  return app;
}

export function finishApp(app: Express, logger: Logger): void {
  app.use(((req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: `no route for ${req.method} ${req.path}`, request_id: res.locals.requestId } });
  }) as RequestHandler);
  app.use(errorMapper(logger));
}

/**
 * The HTTP status of each error class: decided here, at the edge, never by the domain that throws.
 * Subclasses answer as their base (IllegalTransition 409 as a Conflict, AmountMismatch 422 as a BusinessRuleViolation).
 */
const STATUS_BY_CLASS: ReadonlyArray<readonly [abstract new (...args: never[]) => AppError, number]> = [
  [BadInput, 400],
  [Unauthorized, 401],
  [Forbidden, 403],
  [NotFound, 404],
  [Conflict, 409],
  [UnsupportedMediaType, 415],
  [BusinessRuleViolation, 422],
  [Unavailable, 503],
];

/** The status an error answers with over HTTP; anything not mapped above is a 500. */
export function httpStatusOf(error: unknown): number {
  for (const [errorClass, status] of STATUS_BY_CLASS) if (error instanceof errorClass) return status;
  return 500;
}

/** `Retry-After` in whole seconds (RFC 9110 delay-seconds), at least 1. */
function retryAfterValue(seconds: number): string {
  return String(Number.isFinite(seconds) ? Math.max(1, Math.ceil(seconds)) : 1);
}

/** The one mapping from errors to `{error:{code,message,details?}}`. Unknown errors never leak internals. */
export function errorMapper(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const requestId = res.locals.requestId as string | undefined;
    if (res.headersSent) return;
    if (error instanceof AppError) {
      const status = httpStatusOf(error);
      // Unavailable is retryable by definition (its cause, e.g. an unreachable upstream, is logged where it is seen).
      if (error instanceof Unavailable) logger.warn(error.message, { code: error.code });
      else if (status >= 500) logger.error(error.message, { code: error.code });
      if (error instanceof Unavailable && error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', retryAfterValue(error.retryAfterSeconds));
      res.status(status).json({ error: { code: error.code, message: error.message, details: error.details, request_id: requestId } });
      return;
    }
    const bodyError = error as { type?: string; status?: number; message?: string };
    if (bodyError.type === 'entity.too.large') {
      res.status(413).json({ error: { code: 'payload_too_large', message: 'request body too large', request_id: requestId } });
      return;
    }
    if (bodyError.type === 'entity.parse.failed' || bodyError.type === 'encoding.unsupported' || bodyError.type === 'charset.unsupported') {
      res.status(400).json({ error: { code: 'bad_request', message: 'request body is not valid JSON', request_id: requestId } });
      return;
    }
    if (typeof bodyError.status === 'number' && bodyError.status >= 400 && bodyError.status < 500) {
      res.status(bodyError.status).json({ error: { code: 'bad_request', message: 'bad request', request_id: requestId } });
      return;
    }
    logger.error('unhandled error', { error, request_id: requestId });
    res.status(500).json({ error: { code: 'internal', message: 'internal error', request_id: requestId } });
  };
}
