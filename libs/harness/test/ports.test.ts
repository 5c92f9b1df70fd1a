import { GiveUpWaiting, freePort, portSlice, waitFor } from '../src/ports';

describe('ports for the processes of a stack', () => {
  it('never hands out the same port twice (the OS may offer a port it just gave back)', async () => {
    const ports = await Promise.all(Array.from({ length: 200 }, () => freePort()));
    expect(new Set(ports).size).toBe(ports.length);
  });

  it("hands out ports of its own jest worker's slice, below the OS's ephemeral range, disjoint from every other process's", async () => {
    const slices = [undefined, '1', '2', '3', '15'].map(portSlice);
    for (const [i, a] of slices.entries()) {
      expect(a.end).toBeLessThanOrEqual(32_768);
      expect(a.end - a.start).toBeGreaterThanOrEqual(1_000);
      for (const b of slices.slice(i + 1)) expect(a.end <= b.start || b.end <= a.start).toBe(true);
    }
    const own = portSlice(process.env.JEST_WORKER_ID);
    for (const port of await Promise.all(Array.from({ length: 20 }, () => freePort()))) {
      expect(port).toBeGreaterThanOrEqual(own.start);
      expect(port).toBeLessThan(own.end);
    }
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
