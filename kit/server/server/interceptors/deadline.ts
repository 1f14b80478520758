import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";

/**
 * Ends a call when its signal aborts (deadline passed, client gone, shutdown past its bound),
 * even if the handler ignores the signal: the client gets DeadlineExceeded (or Unavailable on
 * shutdown) at the deadline instead of a late answer, and the handler's result is dropped.
 */
export function createDeadlineInterceptor(): Interceptor {
  return (next) => async (req) => {
    const res = await untilAborted(next(req), req.signal);
    if (!res.stream) {
      return res;
    }
    return { ...res, message: streamUntilAborted(res.message, req.signal) } satisfies StreamResponse;
  };
}

function abortError(signal: AbortSignal): ConnectError {
  const reason: unknown = signal.reason;
  return reason instanceof ConnectError ? reason : new ConnectError("the call was cancelled", Code.Canceled);
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    // The work may still settle later; nobody is waiting for it any more.
    work.catch(() => {});
    return Promise.reject(abortError(signal));
  }
  let onAbort = (): void => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener("abort", onAbort));
}

async function* streamUntilAborted<T>(messages: AsyncIterable<T>, signal: AbortSignal): AsyncIterable<T> {
  const it = messages[Symbol.asyncIterator]();
  try {
    for (;;) {
      const result = await untilAborted(it.next(), signal);
      if (result.done === true) {
        return;
      }
      yield result.value;
    }
  } finally {
    // Let the handler's generator run its own finally blocks; it may be stuck, so do not wait.
    it.return?.().catch(() => {});
  }
}
