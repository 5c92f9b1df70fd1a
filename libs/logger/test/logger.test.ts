import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger, redact, withLogContext } from '../src';

function capture(service: string) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(service, 'debug');
  logger.clear();
  logger.add(
    new winston.transports.Stream({
      stream: new Writable({
        write(chunk, _enc, done) {
          lines.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    }),
  );
  return { logger, lines };
}

describe('logger', () => {
  it('writes JSON with the service name and level', () => {
    const { logger, lines } = capture('payment-service');
    logger.info('payment started', { payment_id: 'p1' });
    expect(lines[0]).toMatchObject({ service: 'payment-service', level: 'info', message: 'payment started', payment_id: 'p1' });
  });

  it('redacts secrets at any depth and credentials in URLs', () => {
    const { logger, lines } = capture('x');
    logger.info('connecting to amqp://guest:hunter2@host:5672', {
      headers: { authorization: 'Bearer abc', 'x-mock-signature': 't=1,v1=ff' },
      config: { JWT_SECRET: 'topsecret', nested: { apiv3_key: 'k' } },
      amount: 9900,
    });
    const text = JSON.stringify(lines[0]);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('Bearer abc');
    expect(text).not.toContain('topsecret');
    expect(text).not.toContain('t=1,v1=ff');
    expect(text).toContain('9900');
  });

  it('adds the request and correlation ids of the current context', async () => {
    const { logger, lines } = capture('x');
    await withLogContext({ request_id: 'r-1', correlation_id: 'c-1' }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      logger.warn('inside');
    });
    logger.warn('outside');
    expect(lines[0]).toMatchObject({ request_id: 'r-1', correlation_id: 'c-1' });
    expect(lines[1]?.request_id).toBeUndefined();
  });

  it('redact keeps non-secret structure', () => {
    expect(redact({ a: [1, { password: 'x', b: 2 }] })).toEqual({ a: [1, { password: '[redacted]', b: 2 }] });
  });
});
