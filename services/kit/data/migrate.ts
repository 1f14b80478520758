import type { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzleNodePg } from "drizzle-orm/node-postgres";
import { migrate as migrateNodePg } from "drizzle-orm/node-postgres/migrator";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePgliteDb } from "drizzle-orm/pglite/migrator";
import type pg from "pg";
import { toDataError } from "./data-error.js";

/**
 * Session advisory lock key held while migrating, so replicas that start at once take turns:
 * the first applies the migrations, the others then find them recorded and apply nothing.
 */
export const MIGRATION_LOCK_KEY = 0x70726f746f6d; // "protom"

export async function migratePostgres(pool: pg.Pool, folder: string): Promise<void> {
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

export async function migratePglite(client: PGlite, folder: string): Promise<void> {
  try {
    await migratePgliteDb(drizzlePglite({ client }), { migrationsFolder: folder });
  } catch (err) {
    throw toDataError(err);
  }
}
