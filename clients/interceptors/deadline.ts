import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { currentDeadline, deadlineKey } from "../deadline-context.js";
import { callDeadlineKey } from "../transport/call-deadline.js";
import { readGrpcTimeout, writeGrpcTimeout } from "./grpc-timeout.js";

export interface DeadlineOptions {
  /** Timeout of a call that has none from its caller, its context or an incoming call. Undefined: none. */
  defaultTimeoutMs?: number | undefined;
  /** Per-method default timeouts by method name ("GetItem"), overriding `defaultTimeoutMs`. */
  methods?: Readonly<Record<string, number>> | undefined;
}

/**
 * Gives every call one absolute deadline: the earliest of the caller's `timeoutMs`, an explicit
 * `deadlineKey` context value and the ambient (propagated) deadline, else the method's default.
 * It writes the deadline to `deadlineKey` for the retry interceptor and the time left to
 * grpc-timeout, and aborts the call when the deadline passes unless Connect already does (on
 * the balanced transport it arms the call's own timer rather than adding one).
 */
export function deadlineInterceptor(options: DeadlineOptions): Interceptor {
  return (next) => async (req) => {
    const now = Date.now();
    const callerTimeoutMs = readGrpcTimeout(req.header);
    const callerDeadline = callerTimeoutMs === undefined ? undefined : now + callerTimeoutMs;
    let deadline = earliest(earliest(callerDeadline, req.contextValues.get(deadlineKey)), currentDeadline());
    if (deadline === undefined) {
      const defaultMs = options.methods?.[req.method.name] ?? options.defaultTimeoutMs;
      if (defaultMs === undefined) {
        return next(req);
      }
      deadline = now + defaultMs;
    }
    req.contextValues.set(deadlineKey, deadline);
    const remaining = deadline - now;
    if (remaining <= 0) {
      throw new ConnectError("deadline exceeded before the call started", Code.DeadlineExceeded);
    }
    writeGrpcTimeout(req.header, remaining);
    if (deadline === callerDeadline) {
      return next(req);
    }
    const error = () => new ConnectError(`deadline exceeded after ${remaining} ms`, Code.DeadlineExceeded);
    const callDeadline = req.contextValues.get(callDeadlineKey);
    if (callDeadline !== undefined) {
      callDeadline.arm(remaining, error);
      return next(req);
    }
    const controller = new AbortController();
    const onAbort = () => controller.abort(req.signal.reason);
    req.signal.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => {
      controller.abort(error());
    }, remaining);
    if (req.stream) {
      // The response stream outlives this function; the timer ends it at the deadline.
      timer.unref();
      return next({ ...req, signal: controller.signal });
    }
    try {
      return await next({ ...req, signal: controller.signal });
    } finally {
      clearTimeout(timer);
      req.signal.removeEventListener("abort", onAbort);
    }
  };
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}
