// A freshly initialised PGlite cluster kept as a tarball, one per PGlite version, so a new
// database is restored from it instead of running initdb (ADR 0135): initdb is most of an
// embedded database's start-up, several seconds of CPU, and its result is the same every time.
// The same cluster with a migrations folder applied is kept too, keyed by the folder's contents,
// so a new database of a known schema skips its migrations as well (ADR 0144).
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import type { PGlite } from "@electric-sql/pglite";

/** The per-user cache directory: `$XDG_CACHE_HOME/protomesh`, else `~/.cache/protomesh`. */
export function defaultPgliteCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== "" ? env.XDG_CACHE_HOME : join(homedir(), ".cache");
  return join(base, "protomesh");
}

// What a new cluster holds besides initdb's work; a template made before a change to it is not
// used after (the name differs). 2: without template0 (ADR 0151).
const CLUSTER_LAYOUT = 2;

/**
 * Where a template of the installed PGlite lives in `cacheDir`: initdb's cluster, or with
 * `migrations` (a `migrationsKey`) that cluster after those migrations.
 */
export function pgliteTemplatePath(cacheDir: string, migrations?: string): string {
  return join(cacheDir, `${templatePrefix()}${migrations === undefined ? "initdb" : `migrated-${migrations}`}.tar`);
}

const templatePrefix = () => `pglite-${installedPgliteVersion()}-${CLUSTER_LAYOUT}-`;

/**
 * Drops template0 from a cluster initdb has just made, before anything else runs on it. Its 300
 * files are a third of the files every new database's directory gets (ADR 0151); it is the
 * pristine copy `CREATE DATABASE ... TEMPLATE template0` asks for, which an embedded database
 * owned by one application does not need. `CREATE DATABASE` still copies template1.
 */
export async function dropTemplate0(client: PGlite): Promise<void> {
  // Two statements: DROP DATABASE cannot run inside the transaction a multi-statement query is.
  await client.exec("update pg_database set datistemplate = false where datname = 'template0'");
  await client.exec("drop database template0");
}

/**
 * Names what a migrations folder holds: a hash of every file's name and bytes, so an edited or
 * added migration misses the template of the earlier ones, and folders with the same migrations
 * share one.
 */
export async function migrationsKey(migrationsFolder: string): Promise<string> {
  const folder = resolve(migrationsFolder);
  const hash = createHash("sha256");
  const files = (await readdir(folder, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
  for (const file of files) {
    hash.update(`${relative(folder, file)}\0`);
    hash.update(await readFile(file));
    hash.update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

/** Migrated templates kept per PGlite version, the most recently used (40 MB each). */
export const MIGRATED_TEMPLATES_KEPT = 6;

/** Whether `dataDir` already holds a cluster (PGlite then resumes it; a template must not be loaded into it). */
export function holdsCluster(dataDir: string): boolean {
  return existsSync(join(dataDir, "PG_VERSION"));
}

/** The template's tarball, or undefined when there is none yet or it cannot be read. */
export async function readPgliteTemplate(cacheDir: string, migrations?: string): Promise<Uint8Array | undefined> {
  const path = pgliteTemplatePath(cacheDir, migrations);
  try {
    const tarball = await readFile(path);
    // Its modification time says when it was last used, for removeLeastUsedTemplates.
    if (migrations !== undefined) await utimes(path, new Date(), new Date()).catch(() => undefined);
    return tarball;
  } catch {
    return undefined;
  }
}

/**
 * Saves `client`'s cluster as a template; call it right after initdb (or, with `migrations`,
 * right after them), before anything else is written. Written under a temporary name and
 * renamed, so a reader never sees half a file and processes that race to save it leave one
 * whole copy. Migrated templates beyond `MIGRATED_TEMPLATES_KEPT` go, least recently used
 * first. A cache that cannot be written is skipped: the next start does the work again.
 */
export async function savePgliteTemplate(client: PGlite, cacheDir: string, migrations?: string): Promise<void> {
  const target = pgliteTemplatePath(cacheDir, migrations);
  const partial = `${target}.${process.pid}-${randomBytes(4).toString("hex")}.partial`;
  try {
    await mkdir(cacheDir, { recursive: true });
    const tarball = await client.dumpDataDir("none");
    await writeFile(partial, new Uint8Array(await tarball.arrayBuffer()));
    await rename(partial, target);
    if (migrations !== undefined) await removeLeastUsedTemplates(cacheDir);
  } catch {
    await rm(partial, { force: true });
  }
}

async function removeLeastUsedTemplates(cacheDir: string): Promise<void> {
  const prefix = `${templatePrefix()}migrated-`;
  const names = (await readdir(cacheDir)).filter((name) => name.startsWith(prefix) && name.endsWith(".tar"));
  const used = await Promise.all(names.map(async (name) => ({ name, at: (await stat(join(cacheDir, name))).mtimeMs })));
  used.sort((a, b) => b.at - a.at);
  for (const { name } of used.slice(MIGRATED_TEMPLATES_KEPT)) await rm(join(cacheDir, name), { force: true });
}

/**
 * Writes a template's files into `dataDir` with Node's own file system, several at a time: PGlite's
 * `loadDataDir` writes them one by one through its WASM file system, about twice the system calls
 * per file, and a cluster has about 1 000 of them. `PG_VERSION` goes last, so a directory left
 * half-written is not taken for a cluster. Returns false, having written nothing, for a tarball
 * with entries other than files and directories (then let PGlite load it).
 */
export async function extractPgliteTemplate(tarball: Uint8Array, dataDir: string): Promise<boolean> {
  const entries = readTar(tarball);
  if (entries === undefined) return false;
  const directories = entries.filter((entry) => entry.directory).map((entry) => entry.path);
  const files = entries.filter((entry) => !entry.directory);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  for (const directory of directories.sort()) await mkdir(join(dataDir, directory), { recursive: true, mode: 0o700 });
  const last = files.filter((file) => file.path === "PG_VERSION");
  const queue = files.filter((file) => file.path !== "PG_VERSION");
  const writeNext = async (): Promise<void> => {
    for (let file = queue.pop(); file !== undefined; file = queue.pop()) await writeFile(join(dataDir, file.path), file.data, { mode: 0o600 });
  };
  // Node's file system runs four calls at once (its thread pool); more only queue.
  await Promise.all(Array.from({ length: 4 }, writeNext));
  for (const file of last) await writeFile(join(dataDir, file.path), file.data, { mode: 0o600 });
  return true;
}

interface TarEntry {
  path: string;
  directory: boolean;
  data: Uint8Array;
}

/** The entries of a ustar tarball as PGlite's `dumpDataDir` writes it; undefined when one is neither a file nor a directory, or a path leaves the archive. */
function readTar(tarball: Uint8Array): TarEntry[] | undefined {
  const text = (from: number, to: number) => Buffer.from(tarball.subarray(from, to)).toString("utf8").replace(/\0.*$/s, "");
  const entries: TarEntry[] = [];
  for (let offset = 0; offset + 512 <= tarball.length; ) {
    const header = offset;
    if (tarball.subarray(header, header + 512).every((byte) => byte === 0)) break;
    const prefix = text(header + 345, header + 500);
    const path = `${prefix === "" ? "" : `${prefix}/`}${text(header, header + 100)}`.replace(/^\/+/, "");
    const size = Number.parseInt(text(header + 124, header + 136).trim() || "0", 8);
    const type = String.fromCharCode(tarball[header + 156] ?? 0);
    offset += 512;
    if (!Number.isFinite(size) || path === "" || path.split("/").includes("..")) return undefined;
    if (type === "5") entries.push({ path, directory: true, data: new Uint8Array() });
    else if (type === "0" || type === "\0") entries.push({ path, directory: false, data: tarball.subarray(offset, offset + size) });
    else return undefined;
    offset += Math.ceil(size / 512) * 512;
  }
  return entries;
}

let pgliteVersion: string | undefined;

// The tarball only fits the PGlite build that made it (PostgreSQL's catalog version), so the
// installed version names it. PGlite's exports map hides package.json: found next to its entry.
function installedPgliteVersion(): string {
  if (pgliteVersion === undefined) {
    const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
    let dir = dirname(entry);
    while (!existsSync(join(dir, "package.json")) || !isPglitePackage(join(dir, "package.json"))) {
      const parent = dirname(dir);
      if (parent === dir) throw new Error(`no package.json of @electric-sql/pglite above ${entry}`);
      dir = parent;
    }
    pgliteVersion = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
  }
  return pgliteVersion;
}

function isPglitePackage(file: string): boolean {
  return (JSON.parse(readFileSync(file, "utf8")) as { name?: string }).name === "@electric-sql/pglite";
}
