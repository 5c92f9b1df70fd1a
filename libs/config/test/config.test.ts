import { z } from 'zod';
import { ConfigError, booleanFlag, commonEnv, loadConfig, metricsPort, port, url } from '../src';

const schema = z.object({
  SERVICE_PORT: port(8080),
  AMQP_URL: commonEnv.AMQP_URL,
  SANDBOX: booleanFlag(false),
  DB: url(['mongodb']),
});

describe('loadConfig', () => {
  it('applies defaults and coerces types', () => {
    const config = loadConfig(schema, { DB: 'mongodb://localhost:1/x' });
    expect(config).toEqual({
      SERVICE_PORT: 8080,
      AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
      SANDBOX: false,
      DB: 'mongodb://localhost:1/x',
    });
  });

  it('fails naming every bad variable', () => {
    let thrown: unknown;
    try {
      loadConfig(schema, { SERVICE_PORT: 'eighty', SANDBOX: 'yes', DB: 'http://x' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const message = (thrown as ConfigError).message;
    expect(message).toContain('SERVICE_PORT');
    expect(message).toContain('SANDBOX');
    expect(message).toContain('DB');
    expect((thrown as ConfigError).issues.map((i) => i.variable).sort()).toEqual(['DB', 'SANDBOX', 'SERVICE_PORT']);
  });

  it('names a missing required variable', () => {
    expect(() => loadConfig(schema, {})).toThrow(/DB/);
  });

  it('refuses a port out of range', () => {
    expect(() => loadConfig(schema, { DB: 'mongodb://x', SERVICE_PORT: '70000' })).toThrow(/SERVICE_PORT/);
  });

  it('takes METRICS_PORT 0 (the OS picks a free port) and refuses one out of range, naming it', () => {
    const metrics = z.object({ METRICS_PORT: metricsPort(9083) });
    expect(loadConfig(metrics, {})).toEqual({ METRICS_PORT: 9083 });
    expect(loadConfig(metrics, { METRICS_PORT: '0' })).toEqual({ METRICS_PORT: 0 });
    for (const bad of ['-1', '65536', 'nine']) expect(() => loadConfig(metrics, { METRICS_PORT: bad })).toThrow(/METRICS_PORT/);
  });
});
