import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, isDataError, openDatabase, runTransaction, toDataError } from "@protomesh/data";
import { createTestDatabase, startPostgresServer, type TestDatabase } from "../../test/helpers/index.js";
import * as schema from "./testdata/schema.js";

const migrationsFolder = fileURLToPath(new URL("./testdata/migrations", import.meta.url));
const { counters } = schema;

type Backend = { name: string; open: () => Promise<Database<typeof schema>>; setup: () => Promise<void>; teardown: () => Promise<void> };

let pgDb: TestDatabase | undefined;
const backends: Backend[] = [
  {
    name: "PGlite",
    open: () => openDatabase({ schema, migrationsFolder }),
    setup: () => Promise.resolve(),
    teardown: () => Promise.resolve(),
  },
  {
    name: "PostgreSQL",
    open: () => openDatabase({ url: pgDb?.url, schema, migrationsFolder }),
    setup: async () => {
      pgDb = await createTestDatabase("data");
    },
    teardown: async () => {
      await pgDb?.drop();
    },
  },
];

describe.each(backends)("openDatabase on $name", (backend) => {
  let database: Database<typeof schema>;
  beforeAll(async () => {
    await backend.setup();
    database = await backend.open();
  });
  afterAll(async () => {
    await database.close();
    await backend.teardown();
  });

  it("applies migrations at open and answers readiness", async () => {
    await database.ready();
    await database.db.insert(counters).values({ name: "a", value: 1 });
    const rows = await database.db.select().from(counters).where(eq(counters.name, "a"));
    expect(rows).toEqual([{ name: "a", value: 1 }]);
  });

  it("applying the migrations again is a no-op", async () => {
    await database.migrate(migrationsFolder);
    const rows = await database.db.execute<{ n: number }>(sql`select count(*)::int as n from counters`);
    expect(rows.rows[0]?.n).toBe(1);
  });

  it("maps a unique violation to a typed error, keeping the cause", async () => {
    const err = await database.db
      .insert(counters)
      .values({ name: "a" })
      .then(() => undefined, (e: unknown) => e);
    const mapped = toDataError(err);
    expect(isDataError(mapped)).toBe(true);
    expect(mapped.code).toBe("unique_violation");
    expect(mapped.sqlState).toBe("23505");
    expect(mapped.constraint).toBe("counters_pkey");
    expect(mapped.cause).toBe(err);
    expect(mapped.retryable).toBe(false);
  });

  it("rolls a failed transaction back", async () => {
    await expect(
      database.db.transaction(async (tx) => {
        await tx.insert(counters).values({ name: "rolled-back" });
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const rows = await database.db.select().from(counters).where(eq(counters.name, "rolled-back"));
    expect(rows).toEqual([]);
  });

  it("keeps concurrent read-modify-write transactions from losing updates", async () => {
    await database.db.insert(counters).values({ name: "rmw", value: 0 });
    const increment = () =>
      runTransaction(
        database.db,
        async (tx) => {
          const [row] = await tx.select().from(counters).where(eq(counters.name, "rmw"));
          await tx.update(counters).set({ value: (row?.value ?? 0) + 1 }).where(eq(counters.name, "rmw"));
        },
        { config: { isolationLevel: "serializable" }, maxAttempts: 50 },
      );
    await Promise.all(Array.from({ length: 20 }, increment));
    const [row] = await database.db.select().from(counters).where(eq(counters.name, "rmw"));
    expect(row?.value).toBe(20);
  });

  it("delivers notifications on commit only", async () => {
    const seen: string[] = [];
    const unlisten = await database.listen("data_test", (payload) => seen.push(payload));
    await database.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_notify('data_test', 'committed')`);
    });
    await database.db
      .transaction(async (tx) => {
        await tx.execute(sql`select pg_notify('data_test', 'rolled back')`);
        throw new Error("rollback");
      })
      .catch(() => undefined);
    await expect.poll(() => seen).toEqual(["committed"]);
    await unlisten();
  });
});

describe("openDatabase on PGlite with a data directory", () => {
  it("keeps data across a restart and does not migrate twice", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "protomesh-pglite-"));
    try {
      const first = await openDatabase({ dataDir, schema, migrationsFolder });
      await first.db.insert(counters).values({ name: "durable", value: 7 });
      await first.close();
      const second = await openDatabase({ dataDir, schema, migrationsFolder });
      expect(await second.db.select().from(counters)).toEqual([{ name: "durable", value: 7 }]);
      const applied = await second.db.execute<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
      expect(applied.rows[0]?.n).toBe(1);
      await second.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("starts with a 16 MB buffer cache unless told otherwise: in memory, restored from a template into a directory, and reopened", async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), "protomesh-pglite-cache-"));
    const dataDir = await mkdtemp(join(tmpdir(), "protomesh-pglite-"));
    const sharedBuffers = async (database: Database<typeof schema>) => {
      const result = await database.db.execute<{ size: string }>(sql`select current_setting('shared_buffers') as size`);
      await database.close();
      return result.rows[0]?.size;
    };
    try {
      expect(await sharedBuffers(await openDatabase({ schema, migrationsFolder, pgliteCacheDir: cacheDir }))).toBe("16MB");
      // Restored from the template the first open saved, whose postgresql.conf says initdb's 128MB.
      expect(await sharedBuffers(await openDatabase({ dataDir, schema, migrationsFolder, pgliteCacheDir: cacheDir, pgliteSharedBuffersMb: 48 }))).toBe("48MB");
      expect(await sharedBuffers(await openDatabase({ dataDir, schema }))).toBe("16MB");
    } finally {
      await rm(dataDir, { recursive: true, force: true });
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it("rejects a corrupt data directory with a DataError keeping PGlite's message", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "protomesh-pglite-"));
    try {
      await writeFile(join(dataDir, "PG_VERSION"), "99\n");
      const error: unknown = await openDatabase({ dataDir, schema, migrationsFolder }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isDataError(error)).toBe(true);
      expect((error as Error).message).toBe("PGlite failed to initialize properly");
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("notifications on PostgreSQL", () => {
  it("reports a listener that reconnected after losing its connection, and delivers again after it", async () => {
    const target = await createTestDatabase("data_listen");
    const database = await openDatabase({ url: target.url, applicationName: "listen-test" });
    try {
      const seen: string[] = [];
      let reconnects = 0;
      const unlisten = await database.listen("data_test", (payload) => seen.push(payload), { onReconnect: () => reconnects++ });
      await database.db.execute(sql`select pg_notify('data_test', 'before')`);
      await expect.poll(() => seen).toEqual(["before"]);
      expect(reconnects).toBe(0);

      const terminated = await database.db.execute<{ n: number }>(
        sql`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and application_name = 'listen-test:listen'`,
      );
      expect(terminated.rows[0]?.n).toBe(1);
      await expect.poll(() => reconnects, { timeout: 10_000 }).toBe(1);
      await database.db.execute(sql`select pg_notify('data_test', 'after')`);
      await expect.poll(() => seen).toEqual(["before", "after"]);
      await unlisten();
    } finally {
      await database.close();
      await target.drop();
    }
  });
});

describe("openDatabase on PostgreSQL replicas", () => {
  it("migrates once when replicas start at the same time", async () => {
    const target = await createTestDatabase("data_replicas");
    try {
      const replicas = await Promise.all(Array.from({ length: 4 }, () => openDatabase({ url: target.url, migrationsFolder })));
      const applied = await replicas[0]?.db.execute<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
      expect(applied?.rows[0]?.n).toBe(1);
      await Promise.all(replicas.map((r) => r.close()));
    } finally {
      await target.drop();
    }
  });

  it("reports a lost server as unavailable and recovers when it is back", async () => {
    const server = await startPostgresServer();
    const database = await openDatabase({ url: server.url, migrationsFolder, connectTimeoutMs: 2_000 });
    try {
      await server.stop();
      const err = await database.ready().then(() => undefined, (e: unknown) => e);
      expect(isDataError(err) && err.code).toBe("unavailable");
      expect(isDataError(err) && err.retryable).toBe(true);
      await server.start();
      await expect.poll(() => database.ready().then(() => true, () => false), { timeout: 10_000 }).toBe(true);
    } finally {
      await database.close();
      await server.dispose();
    }
  });

  it("rejects options that cannot work, naming the option", async () => {
    await expect(openDatabase({ url: "mysql://x" })).rejects.toThrow(/database url must start with postgres/);
    await expect(openDatabase({ url: "postgres://x", dataDir: "/tmp/x" })).rejects.toThrow(/dataDir/);
    await expect(openDatabase({ url: "postgres://x", pgliteSharedBuffersMb: 32 })).rejects.toThrow(/pgliteSharedBuffersMb is for embedded PGlite/);
    for (const size of [0, 1.5, 2048, Number.NaN]) {
      await expect(openDatabase({ pgliteSharedBuffersMb: size })).rejects.toThrow(`database pgliteSharedBuffersMb must be a whole number of MB from 1 to 1024, got ${size}`);
    }
  });
});
