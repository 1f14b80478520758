// The PostgreSQL driver behind openDatabase, loaded only when a URL is configured.
import { drizzle as drizzleNodePg } from "drizzle-orm/node-postgres";
import { migrate as migrateNodePg } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { beginWithNextStatement } from "./begin-with-next-statement.js";
import { toDataError } from "./data-error.js";
import type { Database, Db, ResolvedDatabaseOptions } from "./database.js";
import { MIGRATION_LOCK_KEY } from "./migrate.js";
import { listenPostgres, type Unlisten } from "./notifications.js";

/**
 * drizzle's node-postgres `transaction()` sends BEGIN before its try/finally, so when BEGIN fails
 * on a connection that died (a database restart) it never releases the client: the pool keeps a
 * dead client forever, has one connection fewer, and `end()` never resolves. Clients checked out
 * with `connect()` (drizzle's transactions, migrations) are therefore released when their
 * connection ends, and releasing them twice is a no-op.
 */
class ReleasingPool extends pg.Pool {
  // Clients checked out with `connect()` send a transaction's BEGIN with its first statement.
  private readonly heldBegins = new WeakMap<pg.PoolClient, { reset(): void }>();

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): void;
  override connect(callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): Promise<pg.PoolClient> | void {
    if (callback !== undefined) return super.connect(callback);
    return super.connect().then((client) => {
      const heldBegin = this.heldBegins.get(client);
      if (heldBegin === undefined) this.heldBegins.set(client, beginWithNextStatement(client));
      else heldBegin.reset();
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

export function openPostgres<TSchema extends Record<string, unknown>>(options: ResolvedDatabaseOptions<TSchema> & { url: string }): Database<TSchema> {
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

async function migratePostgres(pool: pg.Pool, folder: string): Promise<void> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw toDataError(err);
  }
  let broken: Error | undefined;
  try {
    await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    // The migrator runs on the locked connection: the lock is released with it at worst.
    await migrateNodePg(drizzleNodePg({ client }), { migrationsFolder: folder });
    await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
  } catch (err) {
    broken = err instanceof Error ? err : new Error(String(err));
    throw toDataError(err);
  } finally {
    // A connection that failed mid-migration may still hold the lock: destroy it, never reuse.
    client.release(broken);
  }
}
