// The embedded PGlite driver behind openDatabase, loaded only when no URL is configured.
import { PGlite, types, type QueryOptions, type Transaction } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePgliteDb } from "drizzle-orm/pglite/migrator";
import { toDataError } from "./data-error.js";
import type { Database, Db, ResolvedDatabaseOptions } from "./database.js";
import { extractPgliteTemplate, holdsCluster, migrationsKey, readPgliteTemplate, savePgliteTemplate } from "./pglite-template.js";

/** Opens PGlite and applies `options.migrationsFolder`, unless the template it started from holds them already. */
export async function openPglite<TSchema extends Record<string, unknown>>(options: ResolvedDatabaseOptions<TSchema>): Promise<Database<TSchema>> {
  const { client, migrated, saveMigrated } = await startPglite(options.dataDir, options.pgliteCacheDir, options.migrationsFolder);
  const database = pgliteDatabase(client, options);
  try {
    await database.ready();
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
  const db = drizzlePglite({ client: withoutCopiedParsers(client), ...(options.schema ? { schema: options.schema } : {}) }) as unknown as Db<TSchema>;
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
  /** Saves the migrations folder's template; call it right after the migrations. */
  saveMigrated: (() => Promise<void>) | undefined;
}

/**
 * A new database is restored from the cached template of its migrations folder, else from
 * initdb's (or initialised and then saved as it); one that was not saves the migrated template
 * once its migrations ran. A data directory gets the template's files written by Node, then
 * PGlite resumes it as it would any cluster.
 */
async function startPglite(dataDir: string | undefined, cacheDir: string | false, migrationsFolder: string | undefined): Promise<StartedPglite> {
  const fresh = dataDir === undefined || !holdsCluster(dataDir);
  const cached = fresh && cacheDir !== false ? cacheDir : undefined;
  const key = cached !== undefined && migrationsFolder !== undefined ? await migrationsKey(migrationsFolder).catch(() => undefined) : undefined;
  const migratedTemplate = cached !== undefined && key !== undefined ? await readPgliteTemplate(cached, key) : undefined;
  const template = migratedTemplate ?? (cached === undefined ? undefined : await readPgliteTemplate(cached));
  const extracted = template !== undefined && dataDir !== undefined && (await extractPgliteTemplate(template, dataDir));
  const client = new PGlite({
    parsers: TEXT_PARSERS,
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(template === undefined || extracted ? {} : { loadDataDir: new Blob([template]) }),
  });
  await client.waitReady;
  // PGlite's start-up gave the array types among them parsers of their own.
  Object.assign(client.parsers, TEXT_PARSERS);
  if (cached !== undefined && template === undefined) await savePgliteTemplate(client, cached);
  return {
    client,
    migrated: migratedTemplate !== undefined,
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

// drizzle's PGlite driver passes, with every query, parsers that keep these types as PostgreSQL's
// text (its own mapping reads them), and PGlite answers any per-query parsers by copying its whole
// table of about 300 into a new object for that query: about 100 µs of CPU, as much as running a
// small statement (docs/adr/0147). The PGlite opened here parses them so from the start, and the
// client drizzle is given leaves out a per-query table that would change nothing.
const TEXT_TYPE_OIDS = [types.TIMESTAMP, types.TIMESTAMPTZ, types.INTERVAL, types.DATE, 1231, 1115, 1185, 1187, 1182] as const;
const keepText = (value: string) => value;
const TEXT_PARSERS = Object.fromEntries(TEXT_TYPE_OIDS.map((oid) => [oid, keepText]));
const TEXT_PROBE = "\u0000text";

/**
 * `client` as drizzle should see it (also its `$client`): queries whose parsers only keep types
 * as text that the client already keeps as text go without them. Any other parsers still go, as
 * do all of them once something (PGlite's `refreshArrayTypes()`) has changed the client's.
 */
function withoutCopiedParsers(client: PGlite): PGlite {
  // Per options object (drizzle keeps two per prepared query): the same without parsers, when they only keep types as text.
  const leanOptions = new WeakMap<QueryOptions, QueryOptions | undefined>();
  const lean = (options: QueryOptions | undefined): QueryOptions | undefined => {
    const parsers = options?.parsers;
    if (options === undefined || parsers === undefined) return options;
    let withoutParsers = leanOptions.get(options);
    if (!leanOptions.has(options)) {
      const entries = Object.entries(parsers) as [string, (value: string, typeId: number) => unknown][];
      const keepsText = entries.every(([oid, parse]) => oid in TEXT_PARSERS && parse(TEXT_PROBE, Number(oid)) === TEXT_PROBE);
      const { parsers: _keptAsText, ...rest } = options;
      withoutParsers = keepsText ? rest : undefined;
      leanOptions.set(options, withoutParsers);
    }
    return withoutParsers !== undefined && Object.keys(parsers).every((oid) => client.parsers[Number(oid)] === keepText) ? withoutParsers : options;
  };
  const query = (text: string, params?: unknown[], options?: QueryOptions) => client.query(text, params, lean(options));
  const transaction = <T>(run: (tx: Transaction) => Promise<T>) =>
    client.transaction((tx) => {
      const txQuery = (text: string, params?: unknown[], options?: QueryOptions) => tx.query(text, params, lean(options));
      return run(Object.create(tx, { query: { value: txQuery } }) as Transaction);
    });
  return new Proxy(client, {
    get(target, property) {
      if (property === "query") return query;
      if (property === "transaction") return transaction;
      const value: unknown = Reflect.get(target, property, target);
      // PGlite's methods use its private state: they must run on the client itself, not the proxy.
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
