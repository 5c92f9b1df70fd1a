import { GiveUpWaiting, freePort, waitFor } from '../src/ports';

describe('ports for the processes of a stack', () => {
  it('never hands out the same port twice (the OS may offer a port it just gave back)', async () => {
    const ports = await Promise.all(Array.from({ length: 200 }, () => freePort()));
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('stops waiting at once when a check gives up, and keeps waiting through other errors', async () => {
    let calls = 0;
    await waitFor('flaky', async () => {
      calls++;
      if (calls < 3) throw new Error('connection refused');
      return true;
    }, 5000, 10);
    expect(calls).toBe(3);
    let attempts = 0;
    const doomed = async () => {
      attempts++;
      throw new GiveUpWaiting('it exited');
    };
    await expect(waitFor('doomed', doomed, 5000, 10)).rejects.toThrow('it exited');
    expect(attempts).toBe(1);
  });
});
