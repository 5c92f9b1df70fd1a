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
