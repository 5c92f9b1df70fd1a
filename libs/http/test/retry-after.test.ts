import { Unavailable } from '@pay/errors';
import { createLogger } from '@pay/logger';
import { createMetrics } from '@pay/metrics';
import { createHttpApp, finishApp } from '../src';
import { serveInProcess, type InProcessServer } from '../../../test/support/in-process';

const logger = createLogger('http-test', 'error');
logger.silent = true;

/** A retryable 503 tells the client when to come back: `Retry-After`, from the error, set by the one mapper. */
describe('Unavailable over HTTP', () => {
  let server: InProcessServer;

  beforeAll(async () => {
    const app = createHttpApp({ service: 'test', logger, metrics: createMetrics('test'), readiness: {} });
    app.get('/lagging', () => {
      throw new Unavailable('order o1 is not known yet; retry', { order_id: 'o1' }, { code: 'order_not_yet_known', retryAfterSeconds: 2 });
    });
    app.get('/fractional', () => {
      throw new Unavailable('soon', undefined, { retryAfterSeconds: 0.2 });
    });
    app.get('/down', () => {
      throw new Unavailable('a backing service is unavailable; retry later');
    });
    finishApp(app, logger);
    server = await serveInProcess(app);
  });

  afterAll(async () => {
    await server.close();
  });

  it('answers 503 with Retry-After and the error’s own code', async () => {
    const response = await fetch(`${server.url}/lagging`);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('2');
    expect(await response.json()).toMatchObject({
      error: { code: 'order_not_yet_known', message: 'order o1 is not known yet; retry', details: { order_id: 'o1' } },
    });
  });

  it('rounds Retry-After up to whole seconds, at least 1', async () => {
    const response = await fetch(`${server.url}/fractional`);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toMatchObject({ error: { code: 'unavailable' } });
  });

  it('sets no Retry-After when the error names no delay', async () => {
    const response = await fetch(`${server.url}/down`);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBeNull();
    expect(await response.json()).toMatchObject({ error: { code: 'unavailable' } });
  });
});
