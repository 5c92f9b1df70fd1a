import { ConfigError, FAULT_EXIT_CODE, armFaultPoint, armedFaultPoint, faultPoint } from '../src';

class Exited extends Error {
  constructor(readonly code: number | string | null | undefined) {
    super(`process.exit(${code})`);
  }
}

describe('fault points (test-only crash hook)', () => {
  let exit: jest.SpiedFunction<typeof process.exit>;
  let stderr: jest.SpiedFunction<typeof process.stderr.write>;

  beforeEach(() => {
    exit = jest.spyOn(process, 'exit').mockImplementation((code) => {
      throw new Exited(code);
    });
    stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });

  afterEach(() => {
    armFaultPoint('test', {});
    jest.restoreAllMocks();
  });

  function configErrorOf(env: NodeJS.ProcessEnv): ConfigError {
    try {
      armFaultPoint('test', env);
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
    throw new Error('armFaultPoint accepted the environment');
  }

  it('does nothing at any point when FAULT_POINT is unset (or empty, as compose passes it)', () => {
    for (const env of [{}, { FAULT_POINT: '' }]) {
      armFaultPoint('test', env);
      expect(armedFaultPoint()).toBeNull();
      faultPoint('outbox.after-commit-before-publish');
      faultPoint('consumer.after-effect-before-ack');
    }
    expect(exit).not.toHaveBeenCalled();
  });

  it('exits with the fault code, after a log line naming the point and service, when the armed point is reached', () => {
    armFaultPoint('payment-service', { FAULT_POINT: 'outbox.after-publish-before-clear' });
    faultPoint('outbox.after-commit-before-publish'); // another point: passes
    expect(exit).not.toHaveBeenCalled();
    expect(() => faultPoint('outbox.after-publish-before-clear')).toThrow(Exited);
    expect(exit).toHaveBeenCalledWith(FAULT_EXIT_CODE);
    const line = JSON.parse(String(stderr.mock.calls[0]![0])) as { level: string; service: string; message: string };
    expect(line).toMatchObject({ level: 'error', service: 'payment-service' });
    expect(line.message).toContain('outbox.after-publish-before-clear');
  });

  it('fires on the n-th pass with FAULT_POINT_AFTER=n', () => {
    armFaultPoint('test', { FAULT_POINT: 'consumer.after-effect-before-ack', FAULT_POINT_AFTER: '3' });
    faultPoint('consumer.after-effect-before-ack');
    faultPoint('consumer.after-effect-before-ack');
    expect(exit).not.toHaveBeenCalled();
    expect(() => faultPoint('consumer.after-effect-before-ack')).toThrow(Exited);
    expect(exit).toHaveBeenCalledTimes(1);
  });

  it('refuses an unknown point name at start-up, naming the variable', () => {
    const error = configErrorOf({ FAULT_POINT: 'payment.after-commit-before-publish' });
    expect(error.issues.map((issue) => issue.variable)).toEqual(['FAULT_POINT']);
    expect(armedFaultPoint()).toBeNull();
  });

  it('refuses a bad count, a count without a point, and any point in a production image', () => {
    expect(configErrorOf({ FAULT_POINT: 'callback.after-confirm-before-answer', FAULT_POINT_AFTER: '0' }).issues[0]!.variable).toBe('FAULT_POINT_AFTER');
    expect(configErrorOf({ FAULT_POINT_AFTER: '2' }).issues[0]!.variable).toBe('FAULT_POINT_AFTER');
    expect(configErrorOf({ FAULT_POINT: 'callback.after-confirm-before-answer', NODE_ENV: 'production' }).issues[0]!.variable).toBe('FAULT_POINT');
  });
});
