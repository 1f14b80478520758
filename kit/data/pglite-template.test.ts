import { existsSync } from "node:fs";
import { appendFile, cp, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type Database, openDatabase } from "@protomesh/data";
import { defaultPgliteCacheDir, extractPgliteTemplate, MIGRATED_TEMPLATES_KEPT, migrationsKey, pgliteTemplatePath, savePgliteTemplate } from "./pglite-template.js";

const migrationsFolder = fileURLToPath(new URL("./testdata/migrations", import.meta.url));

describe("PGlite template", () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "protomesh-pglite-template-"));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("restores a new database from the template the cache holds instead of running initdb", async () => {
    const cacheDir = join(root, "cache");
    // A template with a table no initdb makes: finding it proves the database came from the template.
    const seed = new PGlite();
    await seed.exec("create table from_template (id int)");
    await savePgliteTemplate(seed, cacheDir);
    await seed.close();

    for (const dataDir of [undefined, join(root, "data")]) {
      const database = await openDatabase({ dataDir, pgliteCacheDir: cacheDir, migrationsFolder });
      try {
        const { rows } = await database.db.execute(sql`select count(*)::int as n from from_template`);
        expect(rows).toEqual([{ n: 0 }]);
        await database.db.execute(sql`insert into counters (name, value) values ('restored', 1)`);
      } finally {
        await database.close();
      }
    }
  }, 120_000);

  it("saves the template when the cache has none, and later databases start from it, each its own", async () => {
    const cacheDir = join(root, "cache");
    const first = await openDatabase({ pgliteCacheDir: cacheDir, migrationsFolder });
    await first.db.execute(sql`insert into counters (name, value) values ('first', 1)`);
    await first.close();
    expect((await readdir(cacheDir)).sort()).toEqual(
      [basename(pgliteTemplatePath(cacheDir)), basename(pgliteTemplatePath(cacheDir, await migrationsKey(migrationsFolder)))].sort(),
    );

    // Saved before the migrations ran: initdb's template holds nothing of any app.
    const second = await openDatabase({ pgliteCacheDir: cacheDir });
    try {
      const { rows } = await second.db.execute(sql`select count(*)::int as n from pg_tables where tablename = 'counters'`);
      expect(rows).toEqual([{ n: 0 }]);
    } finally {
      await second.close();
    }
  }, 120_000);

  it("makes new clusters without template0, from initdb or a template, where CREATE DATABASE still copies template1", async () => {
    const cacheDir = join(root, "cache");
    const databases = async (database: Database) => {
      const { rows } = await database.db.execute<{ datname: string }>(sql`select datname from pg_database order by datname`);
      return rows.map((row) => row.datname);
    };
    // initdb without a cache; initdb saved as the template; that template restored into a directory.
    for (const options of [{ pgliteCacheDir: false }, { pgliteCacheDir: cacheDir }, { dataDir: join(root, "data"), pgliteCacheDir: cacheDir }] as const) {
      const database = await openDatabase(options);
      try {
        expect(await databases(database)).toEqual(["postgres", "template1"]);
        await database.db.execute(sql`create database copied`);
        expect(await databases(database)).toEqual(["copied", "postgres", "template1"]);
        await expect(database.db.execute(sql`create database pristine template template0`)).rejects.toThrow(/template0/);
        // Written to disk: a directory per database (template1, postgres and copied), none for template0.
        if ("dataDir" in options) expect(await readdir(join(options.dataDir, "base"))).toHaveLength(3);
      } finally {
        await database.close();
      }
    }
  }, 120_000);

  it("starts a new database of known migrations from their template, without running them", async () => {
    const cacheDir = join(root, "cache");
    // A migrated template without the migrations: finding its table and no counters proves it was used as is.
    const seed = new PGlite();
    await seed.exec("create table from_migrated_template (id int)");
    await savePgliteTemplate(seed, cacheDir, await migrationsKey(migrationsFolder));
    await seed.close();

    const database = await openDatabase({ dataDir: join(root, "data"), pgliteCacheDir: cacheDir, migrationsFolder });
    try {
      const { rows } = await database.db.execute(sql`select tablename from pg_tables where tablename in ('from_migrated_template', 'counters')`);
      expect(rows).toEqual([{ tablename: "from_migrated_template" }]);
    } finally {
      await database.close();
    }
  }, 120_000);

  it("misses the template once a migration changes", async () => {
    const changed = join(root, "migrations");
    await cp(migrationsFolder, changed, { recursive: true });
    expect(await migrationsKey(changed)).toBe(await migrationsKey(migrationsFolder));
    const [sqlFile] = (await readdir(changed)).filter((name) => name.endsWith(".sql"));
    await appendFile(join(changed, sqlFile ?? ""), "\n-- changed\n");
    expect(await migrationsKey(changed)).not.toBe(await migrationsKey(migrationsFolder));
  });

  it(`keeps the ${MIGRATED_TEMPLATES_KEPT} most recently used migrated templates`, async () => {
    const cacheDir = join(root, "cache");
    await mkdir(cacheDir);
    const older = Array.from({ length: MIGRATED_TEMPLATES_KEPT }, (_, i) => basename(pgliteTemplatePath(cacheDir, `older${i}`)));
    for (const [i, name] of older.entries()) {
      await writeFile(join(cacheDir, name), "");
      await utimes(join(cacheDir, name), new Date(1_000_000 * (i + 1)), new Date(1_000_000 * (i + 1)));
    }
    const seed = await PGlite.create();
    await savePgliteTemplate(seed, cacheDir, "newest");
    await seed.close();

    const kept = (await readdir(cacheDir)).filter((name) => name.includes("-migrated-"));
    expect(kept.sort()).toEqual([...older.slice(1), basename(pgliteTemplatePath(cacheDir, "newest"))].sort());
  }, 120_000);

  it("writes a template's files itself, PG_VERSION included, and leaves a tarball with other entries to PGlite", async () => {
    const header = (name: string, type: string, size: number) => {
      const block = Buffer.alloc(512);
      block.write(name, 0);
      block.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
      block.write(type, 156);
      return block;
    };
    const content = Buffer.from("18\n");
    const files = Buffer.concat([header("/base", "5", 0), header("/base/1", "0", 3), content, Buffer.alloc(509), header("/PG_VERSION", "0", 3), content, Buffer.alloc(509), Buffer.alloc(1024)]);
    const dataDir = join(root, "extracted");
    expect(await extractPgliteTemplate(files, dataDir)).toBe(true);
    expect((await readdir(dataDir)).sort()).toEqual(["PG_VERSION", "base"]);
    expect(await readdir(join(dataDir, "base"))).toEqual(["1"]);
    expect(await readFile(join(dataDir, "PG_VERSION"), "utf8")).toBe("18\n");

    const withLink = Buffer.concat([header("/link", "2", 0), Buffer.alloc(1024)]);
    expect(await extractPgliteTemplate(withLink, join(root, "untouched"))).toBe(false);
    expect(existsSync(join(root, "untouched"))).toBe(false);
  });

  it("resumes a data directory that holds a database rather than loading the template over it", async () => {
    const cacheDir = join(root, "cache");
    const dataDir = join(root, "data");
    const created = await openDatabase({ dataDir, pgliteCacheDir: cacheDir, migrationsFolder });
    await created.db.execute(sql`insert into counters (name, value) values ('kept', 7)`);
    await created.close();

    const reopened = await openDatabase({ dataDir, pgliteCacheDir: cacheDir, migrationsFolder });
    try {
      const { rows } = await reopened.db.execute(sql`select value from counters where name = 'kept'`);
      expect(rows).toEqual([{ value: 7 }]);
    } finally {
      await reopened.close();
    }
  }, 120_000);

  it("writes nothing unless asked, and caches under XDG_CACHE_HOME when given the default place", async () => {
    vi.stubEnv("XDG_CACHE_HOME", join(root, "xdg"));
    try {
      const unasked = await openDatabase();
      await unasked.close();
      const off = await openDatabase({ pgliteCacheDir: false });
      await off.close();
      expect(existsSync(join(root, "xdg"))).toBe(false);
      const cached = await openDatabase({ pgliteCacheDir: defaultPgliteCacheDir() });
      await cached.close();
      expect(existsSync(pgliteTemplatePath(join(root, "xdg", "protomesh")))).toBe(true);
    } finally {
      vi.unstubAllEnvs();
    }
  }, 120_000);

  it("keys the template by the installed PGlite version and caches per user", () => {
    expect(pgliteTemplatePath("/cache")).toMatch(/^\/cache\/pglite-\d+\.\d+\.\d+[^/]*-initdb\.tar$/);
    expect(defaultPgliteCacheDir({ XDG_CACHE_HOME: "/xdg" })).toBe("/xdg/protomesh");
  });
});
