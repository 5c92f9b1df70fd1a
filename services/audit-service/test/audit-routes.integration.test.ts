import { serveInProcess, type InProcessServer } from '../../../test/support/in-process';
import mongoose, { type Connection } from 'mongoose';
import { requireInternalIdentity, signInternalIdentity } from '@pay/auth';
import { AUDIT_ANCHOR_HEADER, AUDIT_SKIPPED_ANCHORS_HEADER, INTERNAL_IDENTITY_HEADER, type Role } from '@pay/contracts';
import { ensureIndexes } from '@pay/db';
import { createHttpApp, finishApp } from '@pay/http';
import { createLogger } from '@pay/logger';
import { createMetrics } from '@pay/metrics';
import { isolatedPrefix, testMongoUrl } from '../../../test/support/isolation';
import { auditModels } from '../src/data-access/audit-models';
import { AuditRepository } from '../src/data-access/audit-repository';
import { anchorMac } from '../src/domain/hash-chain';
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

const call = (method: 'GET' | 'POST', path: string, role: Role, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, {
    method,
    headers: {
      ...headers,
      ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
      [INTERNAL_IDENTITY_HEADER]: signInternalIdentity({ sub: `${role}-1`, role }, SECRET, { audience: 'audit-service', method, path: `/api/v1${path}` }),
    },
    body: method === 'POST' ? '{}' : undefined,
  });
const get = (path: string, role: Role = 'auditor', headers: Record<string, string> = {}) => call('GET', path, role, headers);

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
    const unanchored = { keyed: false, anchor: null, unanchored_records: events };
    expect(await (await get('/audit/verify')).json()).toEqual({ ok: true, checked: events, from_checkpoint: 0, checkpoints: 1, ...unanchored });
    // From the checkpoint the first verify stored at the head: nothing new to walk.
    expect(await (await get('/audit/verify')).json()).toEqual({ ok: true, checked: 0, from_checkpoint: events, checkpoints: 1, ...unanchored });
    expect(await (await get('/audit/verify?full=true')).json()).toEqual({ ok: true, checked: events, from_checkpoint: 0, checkpoints: 1, ...unanchored });
    expect((await get('/audit/verify?full=yes')).status).toBe(400);
  });

  it('refuses an anchor header that is not a JSON audit anchor with 400, and verifies against a valid one', async () => {
    expect((await get('/audit/verify', 'auditor', { [AUDIT_ANCHOR_HEADER]: 'not json' })).status).toBe(400);
    expect((await get('/audit/verify', 'auditor', { [AUDIT_ANCHOR_HEADER]: JSON.stringify({ seq: 1 }) })).status).toBe(400);
    expect((await get('/audit/verify', 'auditor', { [AUDIT_SKIPPED_ANCHORS_HEADER]: JSON.stringify({ seq: 1 }) })).status).toBe(400);
    // Unkeyed chain: the anchor's mac is plain SHA-256, which anyone can compute (keyed: false says so).
    const first = (await connection.collection('audit_records').findOne({ seq: 1 }))!;
    const anchor = { seq: 1, hash: first.hash as string, mac: anchorMac(1, first.hash as string), anchored_at: new Date().toISOString() };
    const answer = await get('/audit/verify', 'auditor', { [AUDIT_ANCHOR_HEADER]: JSON.stringify(anchor) });
    expect(await answer.json()).toMatchObject({ ok: true, keyed: false, anchor: { seq: 1 }, unanchored_records: craftedDayEvents().length - 1 });
    // A skipped anchor the chain does not satisfy fails the verify.
    const other = { ...anchor, hash: 'e'.repeat(64), mac: anchorMac(1, 'e'.repeat(64)) };
    const skipped = await get('/audit/verify', 'auditor', { [AUDIT_ANCHOR_HEADER]: JSON.stringify(anchor), [AUDIT_SKIPPED_ANCHORS_HEADER]: JSON.stringify([other]) });
    expect(await skipped.json()).toMatchObject({ ok: false, first_bad: { seq: 1, problem: 'anchor_mismatch' } });
  });

  it('rebuilds the report figures for an admin only', async () => {
    expect((await call('POST', '/audit/reports/rebuild', 'auditor')).status).toBe(403);
    const rebuilt = await call('POST', '/audit/reports/rebuild', 'admin');
    expect(rebuilt.status).toBe(200);
    expect(await rebuilt.json()).toEqual({ rebuilt_up_to: craftedDayEvents().length, days: 3, reconciliation_rows: expect.any(Number) });
  });

  it('serves the daily report as JSON and as a CSV download', async () => {
    const json = (await (await get(`/audit/reports/daily?date=${REPORT_DAY}`)).json()) as { payments: { success_rate: number } };
    expect(json.payments.success_rate).toBe(0.7);
    const csv = await get(`/audit/reports/daily?date=${REPORT_DAY}&format=csv`);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toBe(`attachment; filename="audit-daily-${REPORT_DAY}.csv"`);
    const text = await csv.text();
    expect(text).toContain('\r\npayments.success_rate,0.7\r\n');
    expect(text).toContain('\r\nlast_anchor.seq,\r\n'); // none published here
  });
});
