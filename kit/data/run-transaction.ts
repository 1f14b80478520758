import type { PgTransactionConfig } from "drizzle-orm/pg-core";
import { toDataError } from "./data-error.js";
import type { Db, Tx } from "./database.js";

export interface RunTransactionOptions {
  /** Isolation level and access mode. Default: the server's (read committed). */
  config?: PgTransactionConfig | undefined;
  /** Attempts for a transaction that fails with a retryable `DataError` ("conflict"). Default 3. */
  maxAttempts?: number | undefined;
}

/**
 * Runs `work` in a transaction, running it again when PostgreSQL aborts it for a serialization
 * failure or deadlock. Errors leave as `DataError` (others, thrown by `work`, unchanged).
 */
export async function runTransaction<TSchema extends Record<string, unknown>, T>(
  db: Db<TSchema>,
  work: (tx: Tx<TSchema>) => Promise<T>,
  options: RunTransactionOptions = {},
): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(work, options.config);
    } catch (err) {
      const dataError = toDataError(err);
      if (dataError.code === "unknown" && !hasSqlState(err)) throw err;
      if (dataError.code !== "conflict" || attempt >= maxAttempts) throw dataError;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
}

function hasSqlState(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (typeof (e as { code?: unknown }).code === "string") return true;
  }
  return false;
}
