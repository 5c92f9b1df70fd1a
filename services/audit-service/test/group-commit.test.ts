import { GroupCommit, SingleFlight } from '../src/data-access/group-commit';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  it('writes what arrives during a write together in the next one, in order, each submitter getting its own result', async () => {
    const runs: number[][] = [];
    const commit = new GroupCommit<number, string>(async (items) => {
      runs.push(items);
      await tick();
      return items.map((item) => `r${item}`);
    }, 3);
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((item) => commit.submit(item)));
    expect(results).toEqual(['r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
    expect(runs).toEqual([[1], [2, 3, 4], [5, 6]]);
  });

  it('writes a failed run again item by item: an item the write cannot take fails only its own submitter', async () => {
    const runs: number[][] = [];
    const commit = new GroupCommit<number, number>(async (items) => {
      runs.push(items);
      await tick();
      if (items.includes(3)) throw new Error('item 3 refused');
      return items;
    }, 10);
    const outcomes = await Promise.allSettled([1, 2, 3, 4].map((item) => commit.submit(item)));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(runs).toEqual([[1], [2, 3, 4], [2], [3], [4]]);
    await expect(commit.submit(5)).resolves.toBe(5);
  });

  it('starts runs at least the interval apart: what arrives within it goes as one run; after a quiet spell, or a full run, at once', async () => {
    const runs: { items: number[]; at: number }[] = [];
    const paced = (maxRun: number) =>
      new GroupCommit<number, number>(async (items) => {
        runs.push({ items, at: Date.now() });
        await tick();
        return items;
      }, maxRun, 300);
    const commit = paced(10);
    await commit.submit(1);
    // One item at a time, each after the last was written: without the interval each would be a run.
    for (const item of [2, 3, 4]) {
      void commit.submit(item);
      await tick();
      await tick();
    }
    await commit.submit(5);
    expect(runs.map((run) => run.items)).toEqual([[1], [2, 3, 4, 5]]);
    expect(runs[1]!.at - runs[0]!.at).toBeGreaterThanOrEqual(290);
    // After a quiet spell longer than the interval: at once.
    await new Promise((resolve) => setTimeout(resolve, 350));
    const quiet = Date.now();
    await commit.submit(6);
    expect(runs[2]).toMatchObject({ items: [6] });
    expect(runs[2]!.at - quiet).toBeLessThan(150); // well under the interval, with room for a busy machine
    // A full run does not wait for the interval.
    const full = paced(3);
    await full.submit(7);
    const filled = Date.now();
    await Promise.all([8, 9, 10].map((item) => full.submit(item)));
    expect(runs.slice(3).map((run) => run.items)).toEqual([[7], [8, 9, 10]]);
    expect(runs[4]!.at - filled).toBeLessThan(150);
  });

  it('fails every submitter when the store is down for each of them', async () => {
    const commit = new GroupCommit<number, number>(async () => {
      await tick();
      throw new Error('database gone');
    }, 10);
    const outcomes = await Promise.allSettled([1, 2, 3].map((item) => commit.submit(item)));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
  });
});

describe('SingleFlight', () => {
  it('runs one at a time; calls during a run share the next one, which starts after it', async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    const flight = new SingleFlight(async () => {
      running += 1;
      most = Math.max(most, running);
      runs += 1;
      const run = runs;
      await tick();
      running -= 1;
      return run;
    });
    const first = flight.run();
    const [second, third] = [flight.run(), flight.run()];
    expect(await Promise.all([first, second, third])).toEqual([1, 2, 2]);
    expect(most).toBe(1);
    expect(await flight.run()).toBe(3);
  });

  it('starts the next run after a failed one', async () => {
    let runs = 0;
    const flight = new SingleFlight(async () => {
      runs += 1;
      await tick();
      if (runs === 1) throw new Error('first fails');
      return runs;
    });
    const first = flight.run();
    const second = flight.run();
    await expect(first).rejects.toThrow('first fails');
    await expect(second).resolves.toBe(2);
  });
});
