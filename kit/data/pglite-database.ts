// The embedded PGlite driver behind openDatabase, loaded only when no URL is configured.
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePgliteDb } from "drizzle-orm/pglite/migrator";
import { toDataError } from "./data-error.js";
import type { Database, Db, ResolvedDatabaseOptions } from "./database.js";
import { holdsCluster, readPgliteTemplate, savePgliteTemplate } from "./pglite-template.js";

export async function openPglite<TSchema extends Record<string, unknown>>(options: ResolvedDatabaseOptions<TSchema>): Promise<Database<TSchema>> {
  const client = await startPglite(options.dataDir, options.pgliteCacheDir);
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

/** A new database is restored from the cached template, or initialised and then saved as it. */
async function startPglite(dataDir: string | undefined, cacheDir: string | false): Promise<PGlite> {
  const fresh = dataDir === undefined || !holdsCluster(dataDir);
  const template = fresh && cacheDir !== false ? await readPgliteTemplate(cacheDir) : undefined;
  const client = new PGlite({ ...(dataDir === undefined ? {} : { dataDir }), ...(template === undefined ? {} : { loadDataDir: template }) });
  await client.waitReady;
  if (fresh && template === undefined && cacheDir !== false) await savePgliteTemplate(client, cacheDir);
  return client;
}

async function migratePglite(client: PGlite, folder: string): Promise<void> {
  try {
    await migratePgliteDb(drizzlePglite({ client }), { migrationsFolder: folder });
  } catch (err) {
    throw toDataError(err);
  }
}
