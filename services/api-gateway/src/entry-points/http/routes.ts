import { Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import { createTokenVerifier } from '@pay/auth';
import type { Identity } from '@pay/contracts';
import type { Logger } from '@pay/logger';
import type { GatewayConfig } from '../../config';
import { allowRoles, authenticate } from './authenticate';
import { forwardTo } from './proxy';

const tooMany = { error: { code: 'rate_limited', message: 'too many requests; retry after the time in Retry-After' } };

/** /api/v1: per-IP limit → authenticate → per-user limit → role check → forward to the owning service. */
export function gatewayRoutes(config: GatewayConfig, logger: Logger): Router {
  const verify = createTokenVerifier(
    config.JWT_PUBLIC_KEY ? { algorithm: 'RS256', publicKey: config.JWT_PUBLIC_KEY } : { algorithm: 'HS256', secret: config.JWT_SECRET! },
  );
  const forward = (target: string) => forwardTo({ target, internalSecret: config.INTERNAL_TOKEN_SECRET, timeoutMs: config.UPSTREAM_TIMEOUT_MS, logger });
  const router = Router();
  router.use(rateLimit({ windowMs: 60_000, limit: config.RATE_LIMIT_PER_IP, standardHeaders: 'draft-7', legacyHeaders: false, message: tooMany }));
  router.use(authenticate(verify));
  router.use(
    rateLimit({
      windowMs: 60_000,
      limit: config.RATE_LIMIT_PER_USER,
      standardHeaders: 'draft-7',
      legacyHeaders: false,
      keyGenerator: (_req, res) => `user:${(res.locals.identity as Identity).sub}`,
      message: tooMany,
    }),
  );
  router.use('/orders', allowRoles('customer', 'admin', 'auditor'), forward(config.ORDER_SERVICE_URL));
  router.use('/payments', allowRoles('customer', 'admin', 'auditor'), forward(config.PAYMENT_SERVICE_URL));
  router.use('/audit', allowRoles('auditor', 'admin'), forward(config.AUDIT_SERVICE_URL));
  return router;
}
