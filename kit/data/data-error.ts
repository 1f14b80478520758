/**
 * What went wrong in the database, in the few kinds callers act on. The RPC edge maps these to
 * gRPC codes (see docs/messaging.md); `retryable` says whether running the same transaction
 * again may succeed.
 */
export type DataErrorCode =
  /** A unique or primary-key constraint rejected the row (23505). gRPC: AlreadyExists. */
  | "unique_violation"
  /** A foreign-key, check or not-null constraint rejected the row (23503, 23514, 23502). gRPC: FailedPrecondition. */
  | "constraint_violation"
  /** A value the database cannot store or compare (class 22: bad text for a type, overflow). gRPC: InvalidArgument. */
  | "invalid_input"
  /** Serializable or repeatable-read conflict, or deadlock (40001, 40P01): retry the transaction. gRPC: Aborted. */
  | "conflict"
  /** Lock or statement timeout, or a cancelled query (55P03, 57014). gRPC: DeadlineExceeded. */
  | "timeout"
  /** The connection failed or the server is shutting down (class 08, 57P01-57P03, socket errors). gRPC: Unavailable. */
  | "unavailable"
  /** Anything else: a bug, a missing table, a syntax error. gRPC: Internal. */
  | "unknown";

const RETRYABLE: ReadonlySet<DataErrorCode> = new Set(["conflict", "unavailable"]);

/** A database failure with a stable code; the driver's error is kept as `cause`. */
export class DataError extends Error {
  /** Marker for `isDataError`, which works across copies of this module. */
  readonly dataError = true;
  override readonly name = "DataError";
  readonly code: DataErrorCode;
  /** The PostgreSQL SQLSTATE, when the server sent one. */
  readonly sqlState: string | undefined;
  /** The violated constraint's name, for constraint errors. */
  readonly constraint: string | undefined;
  readonly retryable: boolean;

  constructor(code: DataErrorCode, message: string, details: { cause?: unknown; sqlState?: string | undefined; constraint?: string | undefined } = {}) {
    super(message, { cause: details.cause });
    this.code = code;
    this.sqlState = details.sqlState;
    this.constraint = details.constraint;
    this.retryable = RETRYABLE.has(code);
  }
}

export function isDataError(err: unknown): err is DataError {
  return typeof err === "object" && err !== null && (err as { dataError?: unknown }).dataError === true;
}

// Out of descriptors (EMFILE, ENFILE) is a connection that could not be opened now, not a bug.
const SOCKET_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN", "EMFILE", "ENFILE"]);
const CONNECTION_MESSAGES = /connection terminated|connection ended|client has encountered a connection error|not queryable|cannot use a pool after calling end|pglite is closed|timeout exceeded when trying to connect/i;

function codeFor(sqlState: string): DataErrorCode {
  if (sqlState === "23505") return "unique_violation";
  if (sqlState.startsWith("23")) return "constraint_violation";
  if (sqlState.startsWith("22")) return "invalid_input";
  if (sqlState === "40001" || sqlState === "40P01") return "conflict";
  if (sqlState === "55P03" || sqlState === "57014") return "timeout";
  if (sqlState.startsWith("08") || sqlState === "57P01" || sqlState === "57P02" || sqlState === "57P03" || sqlState === "53300") {
    return "unavailable";
  }
  return "unknown";
}

/**
 * Maps any error thrown by a query, a transaction or a connection (node-postgres, PGlite, or
 * drizzle's wrapper around them) to a `DataError`. The one place that reads SQLSTATEs.
 */
export function toDataError(err: unknown): DataError {
  if (isDataError(err)) return err;
  // drizzle wraps driver errors in DrizzleQueryError; the SQLSTATE sits on a cause.
  for (let e: unknown = err, depth = 0; e !== null && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, constraint, message } = e as { code?: unknown; constraint?: unknown; message?: unknown };
    const text = typeof message === "string" ? message : "";
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) {
      return new DataError(codeFor(code), text, {
        cause: err,
        sqlState: code,
        constraint: typeof constraint === "string" ? constraint : undefined,
      });
    }
    if ((typeof code === "string" && SOCKET_ERRORS.has(code)) || CONNECTION_MESSAGES.test(text)) {
      return new DataError("unavailable", text, { cause: err });
    }
  }
  const message = err instanceof Error ? err.message : String(err);
  return new DataError(CONNECTION_MESSAGES.test(message) ? "unavailable" : "unknown", message, { cause: err });
}
