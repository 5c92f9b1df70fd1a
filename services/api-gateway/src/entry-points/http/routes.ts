import { Router, type RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { InternalAudience } from '@pay/auth';
import type { Identity, Role } from '@pay/contracts';
import type { Logger } from '@pay/logger';
import type { GatewayConfig } from '../../config';
import { latestAnchorHeader } from './audit-anchor';
import { allowRoles, authenticate, tokenVerifierFor } from './authenticate';
import { internalReader } from './internal-read';
import { openApiDocument } from './openapi';
import { orderLagGuard } from './order-lag';
import { forwardTo } from './proxy';

const tooMany = { error: { code: 'rate_limited', message: 'too many requests; retry after the time in Retry-After' } };

interface RouteFamily {
  family: string;
  roles: readonly Role[];
  /** Who may use the methods that change something (all but GET and HEAD), when narrower than `roles`. */
  writeRoles?: readonly Role[];
  service: InternalAudience;
  targets: readonly string[];
}

/** Who may use each family of routes, and which service (its name: the identity token's audience; its replicas) owns it. */
function routeFamilies(config: GatewayConfig): RouteFamily[] {
  return [
    { family: '/orders', roles: ['customer', 'admin', 'auditor'], service: 'order-service', targets: config.ORDER_SERVICE_URL },
    // The catalog: anyone signed in reads it, only admins set prices.
    { family: '/products', roles: ['customer', 'admin', 'auditor'], writeRoles: ['admin'], service: 'order-service', targets: config.ORDER_SERVICE_URL },
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
  // Verify and the report rebuild compare the audit chain against the latest anchor the order-service
  // keeps (outside the audit database): the gateway fetches it and hands it on. Registered before the
  // `/audit` family, which would otherwise take these paths.
  const withAnchor = forwardTo({
    targets: config.AUDIT_SERVICE_URL,
    family: '/audit',
    service: 'audit-service',
    internalSecret: config.INTERNAL_TOKEN_SECRET,
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    logger,
    addHeaders: latestAnchorHeader({ targets: config.ORDER_SERVICE_URL, internalSecret: config.INTERNAL_TOKEN_SECRET, timeoutMs: config.UPSTREAM_TIMEOUT_MS, logger }),
  });
  router.get('/audit/verify', perIp, authenticate(verify), perUser, allowRoles('auditor', 'admin'), withAnchor);
  router.post('/audit/reports/rebuild', perIp, authenticate(verify), perUser, allowRoles('admin'), withAnchor);
  const readOrder = internalReader({ targets: config.ORDER_SERVICE_URL, service: 'order-service', internalSecret: config.INTERNAL_TOKEN_SECRET, timeoutMs: config.UPSTREAM_TIMEOUT_MS, logger });
  const paymentOrderLag = orderLagGuard(readOrder, logger);
  for (const { family, roles, writeRoles, service, targets } of routeFamilies(config)) {
    const forward = forwardTo({
      targets,
      family,
      service,
      internalSecret: config.INTERNAL_TOKEN_SECRET,
      timeoutMs: config.UPSTREAM_TIMEOUT_MS,
      logger,
      reviseAnswer: family === '/payments' ? paymentOrderLag : undefined,
    });
    const readers = allowRoles(...roles);
    const writers = allowRoles(...(writeRoles ?? roles));
    const allowed: RequestHandler = (req, res, next) => (req.method === 'GET' || req.method === 'HEAD' ? readers : writers)(req, res, next);
    router.all(`${family}{/*rest}`, perIp, authenticate(verify), perUser, allowed, forward);
  }
  return router;
}
