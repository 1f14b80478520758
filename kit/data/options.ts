
/** How to open a service's database. */
export interface DatabaseOptions<TSchema extends Record<string, unknown> = Record<string, never>> {
  /**
   * PostgreSQL connection URL. Set: a node-postgres pool on that server. Unset: embedded
   * PGlite. Services read it from `DATABASE_URL`. Default: unset.
   */
  url?: string | undefined;
  /**
   * PGlite data directory (only without `url`). Default: unset, an in-memory database. A new
   * embedded cluster has the databases `postgres` (the one opened) and `template1`, not
   * `template0` (ADR 0151).
   */
  dataDir?: string | undefined;
  /**
   * Where embedded PGlite keeps a freshly initialised cluster, one tarball per PGlite version
   * (about 40 MB), restored into each new database instead of running initdb; the first database
   * opened saves it. With `migrationsFolder` it also keeps the cluster with those migrations
   * applied, named by a hash of the folder's files, so a new database of the same migrations runs
   * none (the six most recently used are kept). Default: `false`, initdb and every migration for
   * each new database: a library writes nothing outside what it was given unless asked.
   * `defaultPgliteCacheDir()` names the usual per-user
   * place (`$XDG_CACHE_HOME/protomesh`, else `~/.cache/protomesh`). Only without `url`.
   */
  pgliteCacheDir?: string | false | undefined;
  /**
   * Embedded PGlite's buffer cache (PostgreSQL's `shared_buffers`), in MB. Default 16: PGlite
   * initialises all of it at every start, about 3.5 ms of CPU per MB (a 128 MB cache, initdb's
   * choice, made an open take 0.6 s instead of 0.2 s), and pages outside it are still read from
   * the operating system's cache. Raise it for an embedded database much larger than it. Set at
   * start, it wins over the data directory's postgresql.conf and `ALTER SYSTEM`. Only without
   * `url`; 1 to 1024.
   */
  pgliteSharedBuffersMb?: number | undefined;
  /** Drizzle schema (tables and relations) for `db.query.*`. Default: none. */
  schema?: TSchema | undefined;
  /**
   * Folder of drizzle-kit migrations applied at open, under an advisory lock so replicas that
   * start together migrate once. Default: unset, no migrations.
   */
  migrationsFolder?: string | undefined;
  /** Pool size on PostgreSQL. Default 10 (node-postgres' own default). */
  poolSize?: number | undefined;
  /** How long to wait for a pooled connection, ms. Default 10 000. */
  connectTimeoutMs?: number | undefined;
  /** `application_name` shown in pg_stat_activity. Default "protomesh". */
  applicationName?: string | undefined;
  /**
   * Called with errors that happen outside any query: an idle pooled connection dropped, a
   * notification listener reconnecting. Default: ignored (the next query reports the failure).
   */
  onBackgroundError?: ((err: Error) => void) | undefined;
}

/** Embedded PGlite's `shared_buffers` unless `pgliteSharedBuffersMb` says otherwise (ADR 0153). */
export const DEFAULT_PGLITE_SHARED_BUFFERS_MB = 16;

export interface ResolvedDatabaseOptions<TSchema extends Record<string, unknown>> {
  url: string | undefined;
  dataDir: string | undefined;
  pgliteCacheDir: string | false;
  pgliteSharedBuffersMb: number;
  schema: TSchema | undefined;
  migrationsFolder: string | undefined;
  poolSize: number;
  connectTimeoutMs: number;
  applicationName: string;
  onBackgroundError: (err: Error) => void;
}

/** Applies defaults and rejects values that cannot work, naming the option. */
export function resolveDatabaseOptions<TSchema extends Record<string, unknown>>(
  options: DatabaseOptions<TSchema>,
): ResolvedDatabaseOptions<TSchema> {
  const url = options.url === "" ? undefined : options.url;
  if (url !== undefined && !/^postgres(ql)?:\/\//.test(url)) {
    throw new TypeError(`database url must start with postgres:// or postgresql://, got "${url}"`);
  }
  if (url !== undefined && options.dataDir !== undefined) {
    throw new TypeError("database dataDir is for embedded PGlite; it cannot be combined with url");
  }
  if (url !== undefined && options.pgliteCacheDir !== undefined) {
    throw new TypeError("database pgliteCacheDir is for embedded PGlite; it cannot be combined with url");
  }
  if (url !== undefined && options.pgliteSharedBuffersMb !== undefined) {
    throw new TypeError("database pgliteSharedBuffersMb is for embedded PGlite; it cannot be combined with url");
  }
  const pgliteSharedBuffersMb = options.pgliteSharedBuffersMb ?? DEFAULT_PGLITE_SHARED_BUFFERS_MB;
  if (!Number.isInteger(pgliteSharedBuffersMb) || pgliteSharedBuffersMb < 1 || pgliteSharedBuffersMb > 1024) {
    throw new TypeError(
      `database pgliteSharedBuffersMb must be a whole number of MB from 1 to 1024, got ${typeof pgliteSharedBuffersMb === "string" ? JSON.stringify(pgliteSharedBuffersMb) : String(pgliteSharedBuffersMb)}`,
    );
  }
  if (options.pgliteCacheDir === "") throw new TypeError("database pgliteCacheDir must be a directory or false, got an empty string");
  const poolSize = options.poolSize ?? 10;
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new TypeError(`database poolSize must be a positive integer, got ${poolSize}`);
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  if (!(connectTimeoutMs > 0)) throw new TypeError(`database connectTimeoutMs must be positive, got ${connectTimeoutMs}`);
  return {
    url,
    dataDir: options.dataDir,
    pgliteCacheDir: options.pgliteCacheDir ?? false,
    pgliteSharedBuffersMb,
    schema: options.schema,
    migrationsFolder: options.migrationsFolder,
    poolSize,
    connectTimeoutMs,
    applicationName: options.applicationName ?? "protomesh",
    onBackgroundError: options.onBackgroundError ?? (() => undefined),
  };
}
