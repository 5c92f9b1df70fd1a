import express from 'express';
import { signToken, verifyInternalIdentity } from '@pay/auth';
import { AUDIT_ANCHOR_HEADER, AUDIT_SKIPPED_ANCHORS_HEADER, INTERNAL_IDENTITY_HEADER, type AuditAnchor, type Identity } from '@pay/contracts';
import { serveInProcess, type InProcessServer } from '../../../test/support/in-process';
import { INTERNAL_SECRET, JWT_SECRET, startGateway, startStubUpstream, type InProcessGateway, type StubUpstream } from './gateway-fixture';

/**
 * Verify (and the report rebuild) at the gateway: the latest audit anchor, kept by the order-service, is
 * read on behalf of the caller and handed to the audit-service; without it no verify is forwarded.
 */
const ANCHOR: AuditAnchor = { seq: 300, hash: 'a'.repeat(64), mac: 'b'.repeat(64), anchored_at: '2024-03-15T10:00:00.000Z', prev: null };
const SKIPPED: AuditAnchor = { seq: 200, hash: 'c'.repeat(64), mac: 'd'.repeat(64), anchored_at: '2024-03-15T09:00:00.000Z', prev: null };

let audit: StubUpstream;
let orders: InProcessServer;
let gateway: InProcessGateway;
let anchorAnswer: { anchor: AuditAnchor | null; skipped: AuditAnchor[] } = { anchor: ANCHOR, skipped: [] };
const askedForAnchor: { url: string; identity: string }[] = [];

beforeAll(async () => {
  audit = await startStubUpstream();
  const app = express();
  app.get('/api/v1/audit/anchors/latest', (req, res) => {
    askedForAnchor.push({ url: req.originalUrl, identity: String(req.header(INTERNAL_IDENTITY_HEADER)) });
    res.json(anchorAnswer);
  });
  orders = await serveInProcess(app);
  gateway = await startGateway(audit.url, { JWT_SECRET, ORDER_SERVICE_URL: orders.url });
});

afterAll(async () => {
  await gateway?.close();
  await orders?.close();
  await audit?.close();
});

beforeEach(() => {
  audit.seen.length = 0;
  askedForAnchor.length = 0;
  anchorAnswer = { anchor: ANCHOR, skipped: [] };
});

const bearer = (identity: Identity) => ({ authorization: `Bearer ${signToken(identity, JWT_SECRET, '5m')}` });

describe('the audit anchor on its way to verify', () => {
  it('reads the latest anchor from the order-service as the caller and hands it (and any skipped ones) to the audit-service', async () => {
    anchorAnswer = { anchor: ANCHOR, skipped: [SKIPPED] };
    const response = await fetch(`${gateway.url}/api/v1/audit/verify?full=true`, { headers: bearer({ sub: 'aud-1', role: 'auditor' }) });
    expect(response.status).toBe(200);
    expect(askedForAnchor).toHaveLength(1);
    const binding = { audience: 'order-service', method: 'GET', path: '/api/v1/audit/anchors/latest' } as const;
    expect(verifyInternalIdentity(askedForAnchor[0]!.identity, INTERNAL_SECRET, binding)).toEqual({ sub: 'aud-1', role: 'auditor' });
    expect(audit.seen.map((seen) => seen.url)).toEqual(['/api/v1/audit/verify?full=true']);
    expect(JSON.parse(String(audit.seen[0]!.headers[AUDIT_ANCHOR_HEADER]))).toEqual(ANCHOR);
    expect(JSON.parse(String(audit.seen[0]!.headers[AUDIT_SKIPPED_ANCHORS_HEADER]))).toEqual([SKIPPED]);
  });

  it('sends no anchor while none is kept, and passes on the rebuild of an admin with it', async () => {
    anchorAnswer = { anchor: null, skipped: [] };
    await fetch(`${gateway.url}/api/v1/audit/verify`, { headers: bearer({ sub: 'aud-1', role: 'auditor' }) });
    expect(audit.seen[0]!.headers[AUDIT_ANCHOR_HEADER]).toBeUndefined();
    expect(audit.seen[0]!.headers[AUDIT_SKIPPED_ANCHORS_HEADER]).toBeUndefined();

    anchorAnswer = { anchor: ANCHOR, skipped: [] };
    const rebuild = await fetch(`${gateway.url}/api/v1/audit/reports/rebuild`, {
      method: 'POST',
      headers: { ...bearer({ sub: 'ada', role: 'admin' }), 'content-type': 'application/json' },
      body: '{}',
    });
    expect(rebuild.status).toBe(200);
    expect(JSON.parse(String(audit.seen[1]!.headers[AUDIT_ANCHOR_HEADER]))).toEqual(ANCHOR);
    const auditorRebuild = await fetch(`${gateway.url}/api/v1/audit/reports/rebuild`, { method: 'POST', headers: { ...bearer({ sub: 'aud-1', role: 'auditor' }), 'content-type': 'application/json' }, body: '{}' });
    expect(auditorRebuild.status).toBe(403);
  });

  it('answers 503 and forwards nothing when the anchor cannot be read, rather than verify without it', async () => {
    anchorAnswer = { anchor: { ...ANCHOR, mac: 'not hex' } } as never;
    const response = await fetch(`${gateway.url}/api/v1/audit/verify`, { headers: bearer({ sub: 'aud-1', role: 'auditor' }) });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unavailable');
    expect(audit.seen).toHaveLength(0);
  });
});
