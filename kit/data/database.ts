import type { ExtractTablesWithRelations } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from "drizzle-orm/pg-core";
import { toDataError } from "./data-error.js";
import type { ListenOptions, Unlisten } from "./notifications.js";
import { type DatabaseOptions, resolveDatabaseOptions } from "./options.js";

/** What `db.execute()` resolves to on both drivers: the rows (other driver fields are hidden). */
export interface DbQueryResultHKT extends PgQueryResultHKT {
  type: RowsResult<this["row"]>;
}

/** The part of a query result both drivers share. */
export interface RowsResult<TRow> {
  rows: RowOf<TRow>[];
}

type RowOf<T> = T extends Record<string, unknown> ? T : Record<string, unknown>;

/** One Drizzle handle type for PostgreSQL and PGlite: write queries once, run them on both. */
export type Db<TSchema extends Record<string, unknown> = Record<string, never>> = PgDatabase<DbQueryResultHKT, TSchema>;

/** The `tx` a `db.transaction()` callback receives. */
export type Tx<TSchema extends Record<string, unknown> = Record<string, never>> = PgTransaction<
  DbQueryResultHKT,
  TSchema,
  ExtractTablesWithRelations<TSchema>
>;

/** The schema-independent query methods: what kit code (outbox, inbox) needs from a db or a tx. */
export type Executor = Pick<PgDatabase<DbQueryResultHKT>, "execute" | "select" | "insert" | "update" | "delete">;

/**
 * An open database. On PGlite (one connection) concurrent `db.transaction()` calls run one after
 * another, and a query outside the transaction waits for it: inside a transaction use only `tx`,
 * never `db`, or the callback waits for itself.
 */
export interface Database<TSchema extends Record<string, unknown> = Record<string, never>> {
  readonly db: Db<TSchema>;
  readonly driver: "postgres" | "pglite";
  /** Resolves when a trivial query succeeds; rejects with a `DataError` otherwise. */
  ready(): Promise<void>;
  /**
   * Calls `onNotify` for each NOTIFY on `channel` (delivered on commit). On PostgreSQL a
   * dedicated connection listens and reconnects after a failure; notifications sent while it was
   * down are lost, and `options.onReconnect` says when to re-read what they would have announced.
   * PGlite's listener is in-process and never reconnects.
   */
  listen(channel: string, onNotify: (payload: string) => void, options?: ListenOptions): Promise<Unlisten>;
  /** Applies the drizzle-kit migrations in `folder` (idempotent, one replica at a time). */
  migrate(folder: string): Promise<void>;
  /** Closes the pool or the embedded database; listeners stop. */
  close(): Promise<void>;
}

/**
 * Opens PostgreSQL when `options.url` is set, embedded PGlite otherwise, and applies
 * `options.migrationsFolder` before returning. Rejects with a `DataError`.
 */
export async function openDatabase<TSchema extends Record<string, unknown> = Record<string, never>>(
  options: DatabaseOptions<TSchema> = {},
): Promise<Database<TSchema>> {
  const resolved = resolveDatabaseOptions(options);
  // Each driver is loaded when it is used, so an app on PostgreSQL needs no PGlite installed and
  // an embedded one no pg (both are optional peer dependencies). PGlite migrates as it opens: a
  // new database may start from a template that holds its migrations already (ADR 0144).
  let database: Database<TSchema>;
  try {
    if (resolved.url === undefined) return await (await import("./pglite-database.js")).openPglite(resolved);
    database = (await import("./postgres-database.js")).openPostgres({ ...resolved, url: resolved.url });
  } catch (err) {
    // Opening fails too, e.g. PGlite on a corrupt data directory: the caller gets a DataError either way.
    throw toDataError(err);
  }
  try {
    await database.ready();
    if (resolved.migrationsFolder !== undefined) await database.migrate(resolved.migrationsFolder);
  } catch (err) {
    await database.close().catch(() => undefined);
    throw toDataError(err);
  }
  return database;
}

export type ResolvedDatabaseOptions<TSchema extends Record<string, unknown>> = ReturnType<typeof resolveDatabaseOptions<TSchema>>;
