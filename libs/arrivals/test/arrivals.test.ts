import { Arrivals, waitForRecord } from '../src';

describe('waiting for a record whose event is in flight', () => {
  it('wakes on the announcement and reads once more, not on a polling schedule', async () => {
    const arrivals = new Arrivals();
    let stored: string | null = null;
    let reads = 0;
    const read = async () => {
      reads++;
      return stored;
    };
    setTimeout(() => {
      stored = 'order-1';
      arrivals.announce('o1');
    }, 50);
    const found = await waitForRecord(read, (maxMs, signal) => arrivals.next('o1', maxMs, signal), 5_000, 10_000);
    expect(found).toBe('order-1');
    expect(reads).toBe(2);
  });

  it('re-reads on the recheck timer when the record arrives elsewhere, and gives up at the deadline', async () => {
    const arrivals = new Arrivals();
    let stored: string | null = null;
    setTimeout(() => (stored = 'from-another-replica'), 30);
    await expect(waitForRecord(async () => stored, (maxMs, signal) => arrivals.next('x', maxMs, signal), 2_000, 20)).resolves.toBe('from-another-replica');
    await expect(waitForRecord(async () => null, undefined, 60, 20)).resolves.toBeNull();
  });

  it('reads exactly once when told not to wait', async () => {
    let reads = 0;
    await waitForRecord(async () => (reads++, null), undefined, 0);
    expect(reads).toBe(1);
  });
});
