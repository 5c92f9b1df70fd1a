import { serveInProcess, type InProcessServer } from '../../../test/support/in-process';
import mongoose, { type Connection } from 'mongoose';
import { requireInternalIdentity, signInternalIdentity } from '@pay/auth';
import { INTERNAL_IDENTITY_HEADER, type Role } from '@pay/contracts';
import { ensureIndexes } from '@pay/db';
import { createHttpApp, finishApp } from '@pay/http';
import { createLogger } from '@pay/logger';
import { createMetrics } from '@pay/metrics';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';
import { auditModels } from '../src/data-access/audit-models';
import { AuditRepository } from '../src/data-access/audit-repository';
import { recordAuditEvent } from '../src/domain/record-event';
import { auditRoutes } from '../src/entry-points/http/routes';
import { craftedDayEvents, REPORT_DAY } from './audit-fixtures';

/** The audit routes in-process over the real database (the full stack is the lead's end-to-end tests). */
const SECRET = 'audit-routes-test-secret-0123456789abcdef';
let connection: Connection;
let server: InProcessServer;
let base: string;

beforeAll(async () => {
  connection = mongoose.createConnection(testMongoUrl(), { dbName: isolatedPrefix('routes'), maxPoolSize: 3, autoIndex: false });
  await connection.asPromise();
  const store = new AuditRepository(auditModels(connection));
  await ensureIndexes(connection);
  for (const event of craftedDayEvents()) await recordAuditEvent(store, event);

  const logger = createLogger('audit-service', 'error');
  const app = createHttpApp({ service: 'audit-service', logger, metrics: createMetrics('audit-service'), readiness: {} });
  app.use('/api/v1', requireInternalIdentity({ secret: SECRET, audience: 'audit-service' }), auditRoutes({ store, logger }));
  finishApp(app, logger);
  server = await serveInProcess(app);
  base = `${server.url}/api/v1`;
});

afterAll(async () => {
  await server?.close();
  await connection.dropDatabase().catch(() => undefined);
  await connection.close();
});

const get = (path: string, role: Role = 'auditor') =>
  fetch(`${base}${path}`, { headers: { [INTERNAL_IDENTITY_HEADER]: signInternalIdentity({ sub: `${role}-1`, role }, SECRET, { audience: 'audit-service', method: 'GET', path: `/api/v1${path}` }) } });

describe('audit HTTP routes', () => {
  it('refuses a customer with 403', async () => {
    const response = await get('/audit/events', 'customer');
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('forbidden');
  });

  it('lists the events of a payment newest first, money as "99.00", with page links', async () => {
    const response = await get('/audit/events?payment_id=p7&page_size=2', 'admin');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { count: number; next: string | null; previous: null; results: Record<string, unknown>[] };
    expect(body.count).toBe(4);
    expect(body.next).toBe('/api/v1/audit/events?payment_id=p7&page_size=2&page=2');
    expect(body.results.map((r) => r.action)).toEqual(['order_paid', 'payment_succeeded']);
    expect(body.results[1]).toMatchObject({ payment_id: 'p7', amount_minor: 9900, amount: '99.00', currency: 'CNY', day: REPORT_DAY });
  });

  it('refuses unknown query parameters and bad dates with 400', async () => {
    expect((await get('/audit/events?status=paid')).status).toBe(400);
    expect((await get('/audit/events?from=yesterday')).status).toBe(400);
    expect((await get('/audit/reports/daily?date=2024-3-15')).status).toBe(400);
  });

  it('verifies the chain', async () => {
    const events = craftedDayEvents().length;
    expect(await (await get('/audit/verify')).json()).toEqual({ ok: true, checked: events, from_checkpoint: 0, checkpoints: 1 });
    // From the checkpoint the first verify stored at the head: nothing new to walk.
    expect(await (await get('/audit/verify')).json()).toEqual({ ok: true, checked: 0, from_checkpoint: events, checkpoints: 1 });
    expect(await (await get('/audit/verify?full=true')).json()).toEqual({ ok: true, checked: events, from_checkpoint: 0, checkpoints: 1 });
    expect((await get('/audit/verify?full=yes')).status).toBe(400);
  });

  it('serves the daily report as JSON and as a CSV download', async () => {
    const json = (await (await get(`/audit/reports/daily?date=${REPORT_DAY}`)).json()) as { payments: { success_rate: number } };
    expect(json.payments.success_rate).toBe(0.7);
    const csv = await get(`/audit/reports/daily?date=${REPORT_DAY}&format=csv`);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toBe(`attachment; filename="audit-daily-${REPORT_DAY}.csv"`);
    expect(await csv.text()).toContain('\r\npayments.success_rate,0.7\r\n');
  });
});
