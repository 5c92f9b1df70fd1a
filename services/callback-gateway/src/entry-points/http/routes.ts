import express, { Router, type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { NotFound } from '@pay/errors';
import { MAX_CALLBACK_BYTES, type ProviderAdapter, type ProviderName } from '@pay/providers';
import { receiveCallback, type CallbackDependencies } from '../../domain/receive-callback';

/** What the limiter's handler passes on instead of answering: the domain answers in the provider's format. */
const OVER_LIMIT = Symbol('over the refusal limit');

/**
 * `POST /callbacks/:provider`: the raw body is read as bytes (signatures are over the exact bytes),
 * never parsed before verification. Oversized bodies reach the provider's verify, which refuses them
 * in the provider's own answer format.
 */
export function callbackRoutes(
  providers: Partial<Record<ProviderName, ProviderAdapter>>,
  deps: CallbackDependencies,
  limits: { refusalsPerMinutePerIp: number },
): Router {
  const router = Router();
  // Own entries only: a path segment such as `constructor` or `__proto__` must not find Object.prototype's.
  const enabled = new Map<string, ProviderAdapter>(Object.entries(providers).filter((entry): entry is [string, ProviderAdapter] => entry[1] !== undefined));
  // Counts only notifications that failed verification, and is asked only about them: a flood of forged
  // notifications must not flood the broker and the audit log, while a notification whose signature
  // verifies is never limited. Behind an ingress every request may share one address, so limiting
  // verified ones would let anyone lock the providers out.
  const refusalLimit = rateLimit({
    windowMs: 60_000,
    limit: limits.refusalsPerMinutePerIp,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (_req, _res, next) => next(OVER_LIMIT),
  });
  const mayRefuse = (req: Request, res: Response) => () =>
    new Promise<boolean>((resolve, reject) => {
      void refusalLimit(req, res, (outcome?: unknown) => (outcome === OVER_LIMIT ? resolve(false) : outcome ? reject(outcome) : resolve(true)));
    });
  router.post('/callbacks/:provider', express.raw({ type: () => true, limit: MAX_CALLBACK_BYTES * 4 }), async (req, res) => {
    const provider = enabled.get(req.params.provider);
    if (!provider) throw new NotFound(`unknown provider ${req.params.provider}`);
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(req.headers)) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
    const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const answer = await receiveCallback(provider, { headers, rawBody }, deps, res.locals.requestId as string, { mayRefuse: mayRefuse(req, res) });
    res.status(answer.status).type(answer.contentType).send(answer.body);
  });
  return router;
}
