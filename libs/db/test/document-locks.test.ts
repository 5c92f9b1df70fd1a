import { DocumentLocks } from '../src/document-locks';

describe('DocumentLocks', () => {
  it('runs work on one key one at a time, in arrival order', async () => {
    const locks = new DocumentLocks();
    const trace: string[] = [];
    const job = (name: string, ms: number) =>
      locks.run('doc-1', async () => {
        trace.push(`start ${name}`);
        await new Promise((resolve) => setTimeout(resolve, ms));
        trace.push(`end ${name}`);
        return name;
      });
    expect(await Promise.all([job('a', 20), job('b', 1), job('c', 5)])).toEqual(['a', 'b', 'c']);
    expect(trace).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(locks.size).toBe(0);
  });

  it('lets different keys run at the same time', async () => {
    const locks = new DocumentLocks();
    let concurrent = 0;
    let peak = 0;
    const job = (key: string) =>
      locks.run(key, async () => {
        peak = Math.max(peak, ++concurrent);
        await new Promise((resolve) => setTimeout(resolve, 10));
        concurrent--;
      });
    await Promise.all([job('a'), job('b'), job('c')]);
    expect(peak).toBe(3);
  });

  it('keeps the queue going after a failure', async () => {
    const locks = new DocumentLocks();
    await expect(locks.run('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(locks.run('k', async () => 'next')).resolves.toBe('next');
  });
});
