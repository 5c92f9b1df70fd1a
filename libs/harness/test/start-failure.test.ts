import { freePort, startService } from '../src';

describe('a service that gives up at start', () => {
  it("is reported at once with the service's own error (which variable is wrong), not after the readiness timeout", async () => {
    const port = await freePort();
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, JWT_SECRET: 'too-short', INTERNAL_TOKEN_SECRET: 'i'.repeat(40) };
    let attemptedFor = 0;
    const started = Date.now();
    await expect(
      startService('api-gateway', port, { env, readyTimeoutMs: 60_000 }).finally(() => {
        attemptedFor = Date.now() - started;
      }),
    ).rejects.toThrow(/api-gateway exited with code 78 at start: .*JWT_SECRET/);
    // It did not sit out the 60 s readiness wait.
    expect(attemptedFor).toBeLessThan(30_000);
  }, 60_000);
});
