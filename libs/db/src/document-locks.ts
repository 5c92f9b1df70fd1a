/**
 * Serialises writes to one document inside this process.
 *
 * Why: FerretDB v1 executes every update as read → modify in Go → `UPDATE … SET doc = $1 WHERE _id = $2`,
 * without re-checking the filter, so two concurrent conditional updates of one document can both
 * "succeed" and the second overwrites the first (measured: 20 concurrent conditional findOneAndUpdate,
 * 5 reported success). Every writer of an aggregate (HTTP use cases, consumers, sweeper, outbox relay)
 * lives in its service's process and goes through these locks; the conditional filter stays as the
 * guard across replicas on a real MongoDB, where it is atomic.
 */
export class DocumentLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.then(work, work);
    const tail = current.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await current;
    } finally {
      // Forget the key once nobody queued behind us (keeps the map small).
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  get size(): number {
    return this.tails.size;
  }
}
