// The embedded PGlite driver behind openDatabase, loaded only when no URL is configured.
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePgliteDb } from "drizzle-orm/pglite/migrator";
import { toDataError } from "./data-error.js";
import type { Database, Db, ResolvedDatabaseOptions } from "./database.js";

export async function openPglite<TSchema extends Record<string, unknown>>(options: ResolvedDatabaseOptions<TSchema>): Promise<Database<TSchema>> {
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

async function migratePglite(client: PGlite, folder: string): Promise<void> {
  try {
    await migratePgliteDb(drizzlePglite({ client }), { migrationsFolder: folder });
  } catch (err) {
    throw toDataError(err);
  }
}
