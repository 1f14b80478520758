import { Observable, isObservable } from "rxjs";

/** A handler's async iterable as an Observable, so Nest interceptors see each message. */
export function iterableToObservable<T>(messages: AsyncIterable<T>): Observable<T> {
  return new Observable<T>((subscriber) => {
    const it = messages[Symbol.asyncIterator]();
    let stopped = false;
    void (async () => {
      try {
        for (;;) {
          const result = await it.next();
          if (stopped) return;
          if (result.done === true) break;
          subscriber.next(result.value);
        }
        subscriber.complete();
      } catch (error) {
        if (!stopped) subscriber.error(error);
      }
    })();
    return () => {
      stopped = true;
      // Lets the generator run its finally blocks; it may be waiting, so do not block on it.
      it.return?.().catch(() => {});
    };
  });
}

/**
 * What Nest's pipeline returned for a streaming method (an Observable, or a plain async
 * iterable when nothing wrapped it) as the async iterable Connect writes. Buffers what the
 * Observable pushes faster than the client reads.
 */
export async function* toAsyncIterable<T>(result: unknown): AsyncIterable<T> {
  if (!isObservable(result)) {
    yield* result as AsyncIterable<T>;
    return;
  }
  const queue: T[] = [];
  let done = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const subscription = (result as Observable<T>).subscribe({
    next(value) {
      queue.push(value);
      wake?.();
    },
    error(error: unknown) {
      failure = { error };
      wake?.();
    },
    complete() {
      done = true;
      wake?.();
    },
  });
  try {
    for (;;) {
      const next = queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (failure !== undefined) throw failure.error;
      if (done) return;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    subscription.unsubscribe();
  }
}
