import { Router, type Request, type RequestHandler } from 'express';
import { identityOf } from '@pay/auth';
import {
  AUDIT_ANCHOR_HEADER,
  AUDIT_SKIPPED_ANCHORS_HEADER,
  auditAnchor,
  auditRebuildBody,
  auditVerifyQuery,
  dailyReportQuery,
  listAuditEventsQuery,
  skippedAuditAnchors,
} from '@pay/contracts';
import { BadInput, Conflict, Forbidden } from '@pay/errors';
import { pageOf, validate } from '@pay/http';
import type { Logger } from '@pay/logger';
import { utcDay } from '../../domain/audit-record';
import type { AnchorsGiven, AuditStore } from '../../domain/audit-store';
import { produceDailyReport } from '../../domain/daily-report';
import { toAuditEventView } from './audit-view';
import { renderReportCsv } from './report-csv';


/** Audit data is for auditors and admins only. */
const requireAuditorOrAdmin: RequestHandler = (_req, res, next) => {
  const { role } = identityOf(res);
  if (role !== 'auditor' && role !== 'admin') throw new Forbidden('audit records are for auditors and admins');
  next();
};

/**
 * The anchors kept outside the audit database, as the api-gateway read them from the order-service: the
 * latest (absent: none yet) and those another anchor skipped. Their macs, checked by verify with the chain
 * key, are what make them trustworthy, not these headers: whoever could send them could only fail a
 * verify, never pass one.
 */
function anchorsOf(req: Request): AnchorsGiven {
  const anchor = jsonHeader(req, AUDIT_ANCHOR_HEADER);
  const skipped = jsonHeader(req, AUDIT_SKIPPED_ANCHORS_HEADER);
  return {
    anchor: anchor === undefined ? null : validate(auditAnchor, anchor, `${AUDIT_ANCHOR_HEADER} header`),
    skipped: skipped === undefined ? [] : validate(skippedAuditAnchors, skipped, `${AUDIT_SKIPPED_ANCHORS_HEADER} header`),
  };
}

function jsonHeader(req: Request, name: string): unknown {
  const raw = req.header(name);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new BadInput('invalid headers', { issues: [{ path: name, message: 'must be JSON', code: 'custom' }] });
  }
}

/** Thin: validate → use case → view. */
export function auditRoutes({ store, logger }: { store: AuditStore; logger: Logger }): Router {
  const router = Router();
  router.use('/audit', requireAuditorOrAdmin);

  router.get('/audit/events', async (req, res) => {
    const query = validate(listAuditEventsQuery, req.query, 'query');
    const from = query.from ? new Date(query.from) : undefined;
    const to = query.to ? new Date(query.to) : undefined;
    if (from && to && from > to) throw new BadInput('invalid query', { issues: [{ path: 'from', message: 'must not be after to', code: 'custom' }] });
    const { items, count } = await store.list(
      { paymentId: query.payment_id, orderId: query.order_id, action: query.action, from, to },
      query.page,
      query.page_size,
    );
    res.json(pageOf(items.map(toAuditEventView), count, query.page, query.page_size, '/api/v1/audit/events', query));
  });

  router.get('/audit/verify', async (req, res) => {
    const query = validate(auditVerifyQuery, req.query, 'query');
    const result = await store.verify({ full: query.full === 'true', ...anchorsOf(req) });
    if (!result.ok) {
      logger.error('audit chain verification failed', { first_bad: result.first_bad, checked: result.checked, from_checkpoint: result.from_checkpoint, anchor: result.anchor });
    }
    res.json(result);
  });

  // Admin only: it rewrites the figures every report is read from.
  router.post('/audit/reports/rebuild', async (req, res) => {
    if (identityOf(res).role !== 'admin') throw new Forbidden('only admins rebuild the reports');
    validate(auditRebuildBody, req.body ?? {}, 'body');
    const outcome = await store.rebuildReports(anchorsOf(req));
    if (outcome.status === 'refused') {
      logger.error('audit report rebuild refused: the chain does not verify', { first_bad: outcome.verification.first_bad });
      throw new Conflict('the audit chain does not verify: reports are rebuilt only from verified records', { verification: outcome.verification }, 'chain_not_verified');
    }
    const result = { rebuilt_up_to: outcome.rebuilt_up_to, days: outcome.days, reconciliation_rows: outcome.reconciliation_rows };
    logger.info('audit reports rebuilt from the verified records', result);
    res.json(result);
  });

  router.get('/audit/reports/daily', async (req, res) => {
    const query = validate(dailyReportQuery, req.query, 'query');
    const report = await produceDailyReport(store, query.date ?? utcDay(new Date()), new Date());
    if (query.format === 'csv') {
      res.setHeader('Content-Type', 'text/csv; charset=utf-8');
      res.setHeader('Content-Disposition', `attachment; filename="audit-daily-${report.date}.csv"`);
      res.send(renderReportCsv(report));
      return;
    }
    res.json(report);
  });

  return router;
}
