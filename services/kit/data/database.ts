import { PGlite } from "@electric-sql/pglite";
import type { ExtractTablesWithRelations } from "drizzle-orm";
import { drizzle as drizzleNodePg } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from "drizzle-orm/pg-core";
import pg from "pg";
import { toDataError } from "./data-error.js";
import { migratePglite, migratePostgres } from "./migrate.js";
import { type ListenOptions, listenPostgres, type Unlisten } from "./notifications.js";
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
 * `options.migrationsFolder` before returning.
 */
export async function openDatabase<TSchema extends Record<string, unknown> = Record<string, never>>(
  options: DatabaseOptions<TSchema> = {},
): Promise<Database<TSchema>> {
  const resolved = resolveDatabaseOptions(options);
  const database = resolved.url === undefined ? await openPglite(resolved) : openPostgres({ ...resolved, url: resolved.url });
  try {
    await database.ready();
    if (resolved.migrationsFolder !== undefined) await database.migrate(resolved.migrationsFolder);
  } catch (err) {
    await database.close().catch(() => undefined);
    throw toDataError(err);
  }
  return database;
}

type Resolved<TSchema extends Record<string, unknown>> = ReturnType<typeof resolveDatabaseOptions<TSchema>>;

/**
 * drizzle's node-postgres `transaction()` sends BEGIN before its try/finally, so when BEGIN fails
 * on a connection that died (a database restart) it never releases the client: the pool keeps a
 * dead client forever, has one connection fewer, and `end()` never resolves. Clients checked out
 * with `connect()` (drizzle's transactions, migrations) are therefore released when their
 * connection ends, and releasing them twice is a no-op.
 */
class ReleasingPool extends pg.Pool {
  override connect(): Promise<pg.PoolClient>;
  override connect(callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): void;
  override connect(callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): Promise<pg.PoolClient> | void {
    if (callback !== undefined) return super.connect(callback);
    return super.connect().then((client) => {
      const release = client.release.bind(client);
      let released = false;
      const releaseOnce = (err?: Error | boolean) => {
        if (released) return;
        released = true;
        client.removeListener("end", onEnd);
        release(err);
      };
      const onEnd = () => releaseOnce(new Error("connection ended while checked out"));
      client.once("end", onEnd);
      client.release = releaseOnce;
      return client;
    });
  }
}

function openPostgres<TSchema extends Record<string, unknown>>(options: Resolved<TSchema> & { url: string }): Database<TSchema> {
  const pool = new ReleasingPool({
    connectionString: options.url,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs,
    application_name: options.applicationName,
  });
  // An idle client that loses its connection emits on the pool; unhandled, it ends the process.
  pool.on("error", (err) => options.onBackgroundError(err));
  // pg-pool drops its listener while a client is checked out, so a connection lost between the
  // queries of a transaction would emit an unhandled 'error' on the client: report it instead.
  pool.on("connect", (client) => client.on("error", (err) => options.onBackgroundError(err)));
  const db = drizzleNodePg({ client: pool, ...(options.schema ? { schema: options.schema } : {}) }) as unknown as Db<TSchema>;
  const listeners = new Set<Unlisten>();
  let closed = false;
  return {
    db,
    driver: "postgres",
    ready: async () => {
      try {
        await pool.query("select 1");
      } catch (err) {
        throw toDataError(err);
      }
    },
    listen: async (channel, onNotify, listenOptions) => {
      const unlisten = await listenPostgres(options, channel, onNotify, listenOptions);
      const stop = async () => {
        listeners.delete(stop);
        await unlisten();
      };
      listeners.add(stop);
      return stop;
    },
    migrate: (folder) => migratePostgres(pool, folder),
    close: async () => {
      if (closed) return;
      closed = true;
      await Promise.all([...listeners].map((stop) => stop()));
      await pool.end();
    },
  };
}

async function openPglite<TSchema extends Record<string, unknown>>(options: Resolved<TSchema>): Promise<Database<TSchema>> {
  const client = new PGlite(options.dataDir);
  await client.waitReady;
  const db = drizzlePglite({ client, ...(options.schema ? { schema: options.schema } : {}) }) as unknown as Db<TSchema>;
  return {
    db,
    driver: "pglite",
    ready: async () => {
      try {
        await client.query("select 1");
      } catch (err) {
        throw toDataError(err);
      }
    },
    listen: async (channel, onNotify) => {
      const unlisten = await client.listen(channel, onNotify);
      return async () => {
        if (!client.closed) await unlisten();
      };
    },
    migrate: (folder) => migratePglite(client, folder),
    close: async () => {
      if (!client.closed) await client.close();
    },
  };
}
