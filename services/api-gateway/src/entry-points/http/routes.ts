import { Router, type RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { InternalAudience } from '@pay/auth';
import type { Identity, Role } from '@pay/contracts';
import type { Logger } from '@pay/logger';
import type { GatewayConfig } from '../../config';
import { allowRoles, authenticate, tokenVerifierFor } from './authenticate';
import { openApiDocument } from './openapi';
import { forwardTo } from './proxy';

const tooMany = { error: { code: 'rate_limited', message: 'too many requests; retry after the time in Retry-After' } };

/** Who may use each family of routes, and which service (its name: the identity token's audience; its replicas) owns it. */
function routeFamilies(config: GatewayConfig): { family: string; roles: readonly Role[]; service: InternalAudience; targets: readonly string[] }[] {
  return [
    { family: '/orders', roles: ['customer', 'admin', 'auditor'], service: 'order-service', targets: config.ORDER_SERVICE_URL },
    { family: '/payments', roles: ['customer', 'admin', 'auditor'], service: 'payment-service', targets: config.PAYMENT_SERVICE_URL },
    // A refund lives in its payment's document: the payment-service owns it.
    { family: '/refunds', roles: ['customer', 'admin', 'auditor'], service: 'payment-service', targets: config.PAYMENT_SERVICE_URL },
    { family: '/audit', roles: ['auditor', 'admin'], service: 'audit-service', targets: config.AUDIT_SERVICE_URL },
  ];
}

/**
 * /api/v1: per-IP limit → authenticate → per-user limit → role check → forward to the owning service.
 * Each family is one route (`/orders{/*rest}`), not a `use` prefix, so the latency metric is labelled by
 * the route pattern: a label per URL would let any client (even unauthenticated) grow the gateway's
 * metric series without bound. Paths outside the families answer 404.
 */
export function gatewayRoutes(config: GatewayConfig, logger: Logger): Router {
  const verify = tokenVerifierFor(config);
  const perIp: RequestHandler = rateLimit({ windowMs: 60_000, limit: config.RATE_LIMIT_PER_IP, standardHeaders: 'draft-7', legacyHeaders: false, message: tooMany });
  const perUser: RequestHandler = rateLimit({
    windowMs: 60_000,
    limit: config.RATE_LIMIT_PER_USER,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (_req, res) => `user:${(res.locals.identity as Identity).sub}`,
    message: tooMany,
  });

  const router = Router();
  router.get('/openapi.json', perIp, (_req, res) => {
    res.json(openApiDocument());
  });
  for (const { family, roles, service, targets } of routeFamilies(config)) {
    const forward = forwardTo({ targets, family, service, internalSecret: config.INTERNAL_TOKEN_SECRET, timeoutMs: config.UPSTREAM_TIMEOUT_MS, logger });
    router.all(`${family}{/*rest}`, perIp, authenticate(verify), perUser, allowRoles(...roles), forward);
  }
  return router;
}
