import { Code, ConnectError } from "@connectrpc/connect";
import { isDomainError } from "./domain-error.js";

/**
 * The one mapping from anything a handler can throw to what the client receives:
 * - a ConnectError passes unchanged (its code, metadata and details survive);
 * - a DomainError keeps its code, message and details;
 * - an abort carrying a ConnectError (deadline, shutdown) becomes that error;
 * - anything else is Internal with a fixed message: stacks and internals stay on the server,
 *   kept as `cause` for logs.
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) {
    return error;
  }
  if (isDomainError(error)) {
    return new ConnectError(error.message, error.code, undefined, [...error.details], error);
  }
  if (isAbortError(error) && error.cause instanceof ConnectError) {
    return error.cause;
  }
  if (isTimeoutError(error)) {
    return new ConnectError("the operation timed out", Code.DeadlineExceeded, undefined, undefined, error);
  }
  return new ConnectError("internal error", Code.Internal, undefined, undefined, error);
}

/** True when the mapping above had nothing better than Internal: worth logging with its cause. */
export function isUnexpected(error: ConnectError): boolean {
  return error.code === Code.Internal || error.code === Code.Unknown;
}

function isAbortError(error: unknown): error is Error {
  return error instanceof Error && error.name === "AbortError";
}

function isTimeoutError(error: unknown): error is Error {
  return error instanceof Error && error.name === "TimeoutError";
}
