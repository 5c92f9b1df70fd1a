import { Router } from 'express';
import { identityOf } from '@pay/auth';
import type { LatestAuditAnchorAnswer } from '@pay/contracts';
import { Forbidden } from '@pay/errors';
import type { AuditAnchorStore } from '../../domain/audit-anchors';

/**
 * Internal: the api-gateway reads the latest anchor here (with its identity token for the order-service,
 * on behalf of the auditor or admin asking for a verify) and hands it to the audit-service's verify. No
 * public route leads here: `/api/v1/audit/...` at the gateway is the audit-service's.
 */
export function auditAnchorRoutes(anchors: AuditAnchorStore): Router {
  const router = Router();
  router.get('/audit/anchors/latest', async (_req, res) => {
    const { role } = identityOf(res);
    if (role !== 'auditor' && role !== 'admin') throw new Forbidden('audit anchors are for auditors and admins');
    const { latest, skipped } = await anchors.anchorsToCheck();
    const answer: LatestAuditAnchorAnswer = { anchor: latest, skipped };
    res.json(answer);
  });
  return router;
}
