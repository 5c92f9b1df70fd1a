import { ApiError } from '@pay/client';
import { eventually } from './stack';

describe('eventually (the tests\' wait helper)', () => {
  it('fails at once on a server error, naming its status and body, instead of retrying until the deadline', async () => {
    let calls = 0;
    const started = Date.now();
    const waiting = eventually(
      'order paid',
      async () => {
        calls += 1;
        throw new ApiError(500, { error: { code: 'internal', message: 'boom' } });
      },
      10_000,
    );
    await expect(waiting).rejects.toThrow(/server error while waiting for order paid: 500 .*"code":"internal"/);
    expect(calls).toBe(1);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('keeps waiting through client errors (a 404 until the event arrives) and returns the value', async () => {
    let calls = 0;
    const value = await eventually('order visible', async () => {
      calls += 1;
      if (calls < 3) throw new ApiError(404, { error: { code: 'not_found', message: 'no such order' } });
      return 'found';
    });
    expect(value).toBe('found');
    expect(calls).toBe(3);
  });

  it('times out naming the last error when the value never comes', async () => {
    await expect(
      eventually(
        'never',
        async () => {
          throw new ApiError(404, { error: { code: 'not_found', message: 'still missing' } });
        },
        300,
      ),
    ).rejects.toThrow(/timed out waiting for never: HTTP 404: not_found: still missing/);
  });
});
