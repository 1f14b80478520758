import { Code, ConnectError } from "@connectrpc/connect";
import { isDataError, toDataError, type DataError, type DataErrorCode } from "@protomesh/data/errors";
import { isDomainError } from "./domain-error.js";

/** What a database failure means to the caller (the codes are documented on DataErrorCode). */
const dataErrorCodes: Record<DataErrorCode, Code> = {
  unique_violation: Code.AlreadyExists,
  constraint_violation: Code.FailedPrecondition,
  invalid_input: Code.InvalidArgument,
  conflict: Code.Aborted,
  timeout: Code.DeadlineExceeded,
  unavailable: Code.Unavailable,
  unknown: Code.Internal,
};

/**
 * The one mapping from anything a handler can throw to what the client receives:
 * - a ConnectError passes unchanged (its code, metadata and details survive);
 * - a DomainError keeps its code, message and details;
 * - a database DataError gets the code its kind implies; its message stays on the server
 *   (it can name tables and values) unless the kind is one the caller can act on;
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
  if (isDataError(error)) {
    return fromDataError(error);
  }
  if (isAbortError(error) && error.cause instanceof ConnectError) {
    return error.cause;
  }
  if (isTimeoutError(error)) {
    return new ConnectError("the operation timed out", Code.DeadlineExceeded, undefined, undefined, error);
  }
  // A query that failed outside runTransaction arrives as the driver's (or drizzle's) error.
  const dataError = toDataError(error);
  if (dataError.code !== "unknown") {
    return fromDataError(dataError);
  }
  return new ConnectError("internal error", Code.Internal, undefined, undefined, error);
}

function fromDataError(error: DataError): ConnectError {
  const code = dataErrorCodes[error.code];
  const message = code === Code.Internal ? "internal error" : code === Code.Unavailable ? "the database is unavailable; retry later" : `the database refused the change (${error.code})`;
  return new ConnectError(message, code, undefined, undefined, error);
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
