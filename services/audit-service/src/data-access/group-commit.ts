/**
 * Group commit: items submitted while a write is in progress wait for it and then go together in the
 * next write (at most `maxRun` at once). Runs start at least `minIntervalMs` apart (a commit delay):
 * under a steady stream the items of that interval go as one run instead of one write each, while an
 * item that comes after a quiet spell is written at once, and a full run never waits.
 * Each submitter gets its own item's result, or an error. Order is kept: items are written in the order
 * they were submitted, one write at a time. A write of several items that fails is made again item by
 * item, so an item the write cannot take fails only its own submitter (`write` must tolerate items it
 * may have stored already: the chain's are idempotent by event id).
 */
export class GroupCommit<Item, Result> {
  private readonly waiting: { item: Item; resolve: (result: Result) => void; reject: (error: unknown) => void }[] = [];
  private writing = false;
  private lastRunStarted = 0;
  /** Ends the wait for the interval early: set while waiting, called when a full run is in hand. */
  private wakeUp: (() => void) | null = null;

  constructor(
    /** Writes the items; resolves to one result per item, in the same order. */
    private readonly write: (items: Item[]) => Promise<Result[]>,
    private readonly maxRun: number,
    private readonly minIntervalMs = 0,
  ) {}

  submit(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.waiting.length >= this.maxRun) this.wakeUp?.();
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.waiting.length > 0) {
        const wait = this.intervalSinceLastRun();
        if (wait) await wait;
        this.lastRunStarted = Date.now();
        const run = this.waiting.splice(0, this.maxRun);
        try {
          const results = await this.write(run.map((waiting) => waiting.item));
          run.forEach((waiting, i) => waiting.resolve(results[i]!));
        } catch (error) {
          if (run.length === 1) {
            run[0]!.reject(error);
            continue;
          }
          for (const waiting of run) {
            await this.write([waiting.item]).then(
              (results) => waiting.resolve(results[0]!),
              (alone: unknown) => waiting.reject(alone),
            );
          }
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /** The wait before the next run may start; null: it may start now (no await, so it starts in this tick). */
  private intervalSinceLastRun(): Promise<void> | null {
    const early = this.lastRunStarted + this.minIntervalMs - Date.now();
    if (early <= 0 || this.waiting.length >= this.maxRun) return null;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.wakeUp?.(), early);
      this.wakeUp = () => {
        clearTimeout(timer);
        this.wakeUp = null;
        resolve();
      };
    });
  }
}

/**
 * One run of `task` at a time. A call while it runs does not start a second one alongside: it joins the
 * next run, which starts when the current one ends (so it sees everything done before the call). All
 * callers that join one run share its result.
 */
export class SingleFlight<Result> {
  private current: Promise<Result> | null = null;
  private next: Promise<Result> | null = null;

  constructor(private readonly task: () => Promise<Result>) {}

  run(): Promise<Result> {
    if (!this.current) return this.start();
    if (!this.next) {
      this.next = this.current.then(
        () => this.start(),
        () => this.start(),
      );
    }
    return this.next;
  }

  /** The run under way, if any (a caller whose work it already holds can wait for it alone). */
  running(): Promise<Result> | null {
    return this.current;
  }

  private start(): Promise<Result> {
    this.next = null;
    const running = this.task();
    this.current = running;
    const clear = () => {
      if (this.current === running) this.current = null;
    };
    running.then(clear, clear);
    return running;
  }
}
