import { Router, type RequestHandler } from 'express';
import { identityOf } from '@pay/auth';
import { auditVerifyQuery, dailyReportQuery, listAuditEventsQuery } from '@pay/contracts';
import { BadInput, Forbidden } from '@pay/errors';
import { pageOf, validate } from '@pay/http';
import type { Logger } from '@pay/logger';
import { utcDay } from '../../domain/audit-record';
import type { AuditStore } from '../../domain/audit-store';
import { produceDailyReport } from '../../domain/daily-report';
import { toAuditEventView } from './audit-view';
import { renderReportCsv } from './report-csv';


/** Audit data is for auditors and admins only. */
const requireAuditorOrAdmin: RequestHandler = (_req, res, next) => {
  const { role } = identityOf(res);
  if (role !== 'auditor' && role !== 'admin') throw new Forbidden('audit records are for auditors and admins');
  next();
};

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
    const result = await store.verify({ full: query.full === 'true' });
    if (!result.ok) {
      logger.error('audit chain verification failed', { first_bad: result.first_bad, checked: result.checked, from_checkpoint: result.from_checkpoint });
    }
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
