import { z } from 'zod';
import { BadInput, IllegalTransition, NotFound } from '@pay/errors';
import { createLogger } from '@pay/logger';
import { createMetrics } from '@pay/metrics';
import { createHttpApp, createInternalApp, eventOrigin, finishApp, pageOf, rawBodyOf, requestIdOf, validate } from '../src';
import { serveInProcess, type InProcessServer } from '../../../test/support/in-process';

const logger = createLogger('http-test', 'error');
logger.silent = true;

describe('the shared HTTP app', () => {
  let server: InProcessServer;
  let internalServer: InProcessServer;
  let base: string;
  /** The internal listener (METRICS_PORT) of the same service. */
  let internal: string;
  let ready = true;

  beforeAll(async () => {
    const metrics = createMetrics('test');
    const readiness = { database: () => ready };
    const app = createHttpApp({ service: 'test', logger, metrics, readiness });
    app.post('/echo', (req, res) => {
      const body = validate(z.strictObject({ name: z.string().max(5) }), req.body, 'body');
      res.json({ body, raw: rawBodyOf(req)?.toString('utf8') });
    });
    app.get('/origin', (_req, res) => {
      res.json(eventOrigin(res, 'test'));
    });
    app.get('/missing', () => {
      throw new NotFound('payment p1 not found');
    });
    app.get('/conflict', () => {
      throw new IllegalTransition('payment', 'succeeded', 'failed');
    });
    app.get('/bad', () => {
      throw new BadInput('invalid query', { issues: [] });
    });
    app.get('/crash', () => {
      throw new Error('database password is hunter2');
    });
    finishApp(app, logger);
    server = await serveInProcess(app);
    base = server.url;
    internalServer = await serveInProcess(createInternalApp({ service: 'test', logger, metrics, readiness }));
    internal = internalServer.url;
  });

  afterAll(async () => {
    await server.close();
    await internalServer.close();
  });

  const post = (body: string, type = 'application/json') => fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': type }, body });

  it('validates a body strictly and keeps the raw bytes', async () => {
    const ok = await post('{"name":"abc"}');
    expect(await ok.json()).toEqual({ body: { name: 'abc' }, raw: '{"name":"abc"}' });
    const unknown = await post('{"name":"abc","status":"paid"}');
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error: { code: 'bad_request', message: 'invalid body', details: { issues: [expect.objectContaining({ code: 'unrecognized_keys' })] } } });
  });

  it('answers malformed JSON 400, a large body 413 and another media type 415, in the error format', async () => {
    expect((await post('{"name":')).status).toBe(400);
    const large = await post(JSON.stringify({ name: 'x'.repeat(40_000) }));
    expect(large.status).toBe(413);
    expect(await large.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    const text = await post('{"name":"abc"}', 'text/plain');
    expect(text.status).toBe(415);
    expect(await text.json()).toMatchObject({ error: { code: 'unsupported_media_type' } });
  });

  it('maps domain errors to their statuses and hides unknown ones behind a request id', async () => {
    expect((await fetch(`${base}/missing`)).status).toBe(404);
    const conflict = await fetch(`${base}/conflict`);
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toMatchObject({ error: { code: 'illegal_transition', details: { current_status: 'succeeded' } } });
    expect((await fetch(`${base}/bad`)).status).toBe(400);
    const crash = await fetch(`${base}/crash`);
    const body = (await crash.json()) as { error: { message: string; request_id: string } };
    expect(crash.status).toBe(500);
    expect(body.error.message).toBe('internal error');
    expect(JSON.stringify(body)).not.toContain('hunter2');
    expect(body.error.request_id).toBe(crash.headers.get('x-request-id'));
    const unknownRoute = await fetch(`${base}/nowhere`);
    expect(unknownRoute.status).toBe(404);
    expect(await unknownRoute.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('echoes a well-formed request id and replaces a malformed one', async () => {
    const kept = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'req-12345678' } });
    expect(kept.headers.get('x-request-id')).toBe('req-12345678');
    const replaced = await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'bad id\twith tab' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('makes a client request id the correlation_id only when it is 1-64 characters of [A-Za-z0-9._:-]', async () => {
    const correlationOf = async (requestId: string) => {
      const answer = await fetch(`${base}/origin`, { headers: { 'x-request-id': requestId } });
      const origin = (await answer.json()) as { correlation_id: string };
      expect(answer.headers.get('x-request-id')).toBe(origin.correlation_id);
      return origin.correlation_id;
    };
    for (const kept of ['a', 'x'.repeat(64), 'order-7.retry:2_B']) expect(await correlationOf(kept)).toBe(kept);
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    for (const refused of ['x'.repeat(65), 'y'.repeat(10 * 1024), '<script>alert(1)</script>', 'id"onload=x']) {
      expect(await correlationOf(refused)).toMatch(uuid);
    }
  });

  it('never takes a request id with a line break, markup or 10 kB of text', () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    for (const refused of ['req-1\nforged log line', 'req-1\r\nx-admin: 1', '<script>alert(1)</script>', 'z'.repeat(10 * 1024), '', 'ä-request']) {
      expect(requestIdOf(refused)).toMatch(uuid);
    }
    expect(requestIdOf(undefined)).toMatch(uuid);
    expect(requestIdOf('req-12345678')).toBe('req-12345678');
  });

  it('reports readiness from its checks, which dependency only on the internal listener, liveness always, and security headers', async () => {
    ready = false;
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not_ready' });
    const detailed = await fetch(`${internal}/readyz`);
    expect(detailed.status).toBe(503);
    expect(await detailed.json()).toEqual({ status: 'not_ready', checks: { database: false } });
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${internal}/readyz`)).json()).toEqual({ status: 'ready', checks: { database: true } });
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get('x-content-type-options')).toBe('nosniff');
    expect(health.headers.get('x-powered-by')).toBeNull();
  });

  it('serves Prometheus metrics on the internal listener, labelled by route pattern, never by raw path', async () => {
    await fetch(`${base}/nowhere/abc-123`);
    const text = await (await fetch(`${internal}/metrics`)).text();
    expect(text).toContain('http_request_duration_seconds_bucket');
    expect(text).toContain('route="unmatched"');
    expect(text).not.toContain('abc-123');
    expect(await (await fetch(`${internal}/healthz`)).json()).toEqual({ status: 'ok', service: 'test' });
  });

  it('answers /metrics on the public port with 404', async () => {
    const answer = await fetch(`${base}/metrics`);
    expect(answer.status).toBe(404);
    expect(await answer.text()).not.toContain('http_request_duration_seconds');
  });
});

describe('pageOf', () => {
  it('links next and previous pages keeping the other parameters', () => {
    const page = pageOf(['c', 'd'], 5, 2, 2, '/api/v1/payments', { order_id: 'o1', page: 2, page_size: 2 });
    expect(page).toEqual({
      count: 5,
      next: '/api/v1/payments?order_id=o1&page_size=2&page=3',
      previous: '/api/v1/payments?order_id=o1&page_size=2&page=1',
      results: ['c', 'd'],
    });
    expect(pageOf([], 5, 3, 2, '/x', {}).next).toBeNull();
    expect(pageOf([], 0, 1, 20, '/x', {}).previous).toBeNull();
  });
});
