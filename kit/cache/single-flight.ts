/**
 * One load per key at a time in this process: callers that ask for a key while its load runs
 * share that load's outcome. `forget` detaches a key so the next caller starts a fresh load (used
 * when the key is invalidated mid-load; the detached load still settles for its own callers).
 */
export class SingleFlight<V> {
  private readonly inFlight = new Map<string, Promise<V>>();

  /** The running load of `key`, if any. */
  joining(key: string): Promise<V> | undefined {
    return this.inFlight.get(key);
  }

  /** Registers `load` as the load of `key` until it settles. */
  start(key: string, load: Promise<V>): void {
    this.inFlight.set(key, load);
    const done = () => {
      if (this.inFlight.get(key) === load) this.inFlight.delete(key);
    };
    load.then(done, done);
  }

  forget(key: string): void {
    this.inFlight.delete(key);
  }
}
