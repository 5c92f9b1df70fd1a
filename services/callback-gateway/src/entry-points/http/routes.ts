import express, { Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import { NotFound } from '@pay/errors';
import { MAX_CALLBACK_BYTES, type ProviderAdapter, type ProviderName } from '@pay/providers';
import { receiveCallback, type CallbackDependencies } from '../../domain/receive-callback';

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
  // Only refusals count (4xx): a flood of forged notifications must not flood the broker and the audit
  // log, while a real provider's accepted callbacks, and our own 5xx it must retry, are never limited.
  const refusalLimit = rateLimit({
    windowMs: 60_000,
    limit: limits.refusalsPerMinutePerIp,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode < 400 || res.statusCode >= 500,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (_req, res) => {
      deps.logger.warn('callback refusals over the limit for this address; answering 429 without verifying');
      res.status(429).json({ code: 'FAIL', message: 'too many refused callbacks' });
    },
  });
  router.post('/callbacks/:provider', refusalLimit, express.raw({ type: () => true, limit: MAX_CALLBACK_BYTES * 4 }), async (req, res) => {
    const provider = providers[req.params.provider as ProviderName];
    if (!provider) throw new NotFound(`unknown provider ${req.params.provider}`);
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(req.headers)) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
    const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const answer = await receiveCallback(provider, { headers, rawBody }, deps, res.locals.requestId as string);
    res.status(answer.status).type(answer.contentType).send(answer.body);
  });
  return router;
}
