// The embedded PGlite driver behind openDatabase, loaded only when no URL is configured.
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePgliteDb } from "drizzle-orm/pglite/migrator";
import { toDataError } from "./data-error.js";
import type { Database, Db, ResolvedDatabaseOptions } from "./database.js";
import { drizzleClientOf } from "./pglite-client.js";
import { dropTemplate0, extractPgliteTemplate, holdsCluster, migrationsKey, readPgliteTemplate, savePgliteTemplate } from "./pglite-template.js";

/** Opens PGlite and applies `options.migrationsFolder`, unless the template it started from holds them already. */
export async function openPglite<TSchema extends Record<string, unknown>>(options: ResolvedDatabaseOptions<TSchema>): Promise<Database<TSchema>> {
  const { client, migrated, finishInitdb, saveMigrated } = await startPglite(options);
  const database = pgliteDatabase(client, options);
  try {
    await database.ready();
    await finishInitdb?.();
    if (options.migrationsFolder !== undefined && !migrated) {
      await database.migrate(options.migrationsFolder);
      await saveMigrated?.();
    }
  } catch (err) {
    await database.close().catch(() => undefined);
    throw toDataError(err);
  }
  return database;
}

function pgliteDatabase<TSchema extends Record<string, unknown>>(client: PGlite, options: ResolvedDatabaseOptions<TSchema>): Database<TSchema> {
  const db = drizzlePglite({ client: drizzleClientOf(client), ...(options.schema ? { schema: options.schema } : {}) }) as unknown as Db<TSchema>;
  // An application reaching for the PGlite gets the PGlite, not the client drizzle's sessions keep.
  Object.assign(db, { $client: client });
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

interface StartedPglite {
  client: PGlite;
  /** Restored from the template of the migrations folder: its migrations are applied. */
  migrated: boolean;
  /**
   * Set when initdb ran: drops template0 and saves the cluster as initdb's template, so it is the
   * cluster a template would have given (ADR 0151). Call it before anything else is written.
   */
  finishInitdb: (() => Promise<void>) | undefined;
  /** Saves the migrations folder's template; call it right after the migrations. */
  saveMigrated: (() => Promise<void>) | undefined;
}

/**
 * A new database is restored from the cached template of its migrations folder, else from
 * initdb's (or initialised, without template0, and then saved as it); one that was not saves the
 * migrated template once its migrations ran. A data directory gets the template's files written by Node, then
 * PGlite resumes it as it would any cluster.
 */
async function startPglite({
  dataDir,
  pgliteCacheDir: cacheDir,
  migrationsFolder,
  pgliteSharedBuffersMb,
}: Pick<ResolvedDatabaseOptions<Record<string, unknown>>, "dataDir" | "pgliteCacheDir" | "migrationsFolder" | "pgliteSharedBuffersMb">): Promise<StartedPglite> {
  const fresh = dataDir === undefined || !holdsCluster(dataDir);
  const cached = fresh && cacheDir !== false ? cacheDir : undefined;
  const key = cached !== undefined && migrationsFolder !== undefined ? await migrationsKey(migrationsFolder).catch(() => undefined) : undefined;
  const migratedTemplate = cached !== undefined && key !== undefined ? await readPgliteTemplate(cached, key) : undefined;
  const template = migratedTemplate ?? (cached === undefined ? undefined : await readPgliteTemplate(cached));
  const extracted = template !== undefined && dataDir !== undefined && (await extractPgliteTemplate(template, dataDir));
  const client = new PGlite({
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(template === undefined || extracted ? {} : { loadDataDir: new Blob([template]) }),
    // Set at start, over the cluster's postgresql.conf: PostgreSQL initialises the whole cache
    // before it answers, so initdb's 128 MB cost 0.4 s of every open (ADR 0153).
    startParams: [...PGlite.defaultStartParams, "-c", `shared_buffers=${pgliteSharedBuffersMb}MB`],
  });
  await client.waitReady;
  return {
    client,
    migrated: migratedTemplate !== undefined,
    finishInitdb:
      fresh && template === undefined
        ? async () => {
            await dropTemplate0(client);
            if (cached !== undefined) await savePgliteTemplate(client, cached);
          }
        : undefined,
    saveMigrated: cached !== undefined && key !== undefined && migratedTemplate === undefined ? () => savePgliteTemplate(client, cached, key) : undefined,
  };
}

async function migratePglite(client: PGlite, folder: string): Promise<void> {
  try {
    await migratePgliteDb(drizzlePglite({ client }), { migrationsFolder: folder });
  } catch (err) {
    throw toDataError(err);
  }
}
