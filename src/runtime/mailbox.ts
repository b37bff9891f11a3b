/**
 * One queue per key: tasks with the same key run one at a time, in arrival order; tasks
 * with different keys run concurrently. A stream's commands therefore never interleave
 * between decide and append. Idle keys hold no memory.
 */
export class Mailboxes {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T> | T): Promise<T> {
    const previous = this.tails.get(key);
    const result = previous ? previous.then(task) : Promise.resolve().then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  get busyKeys(): number {
    return this.tails.size;
  }
}
