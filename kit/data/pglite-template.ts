// A freshly initialised PGlite cluster kept as a tarball, one per PGlite version, so a new
// database is restored from it instead of running initdb (ADR 0135): initdb is most of an
// embedded database's start-up, several seconds of CPU, and its result is the same every time.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";

/** The per-user cache directory: `$XDG_CACHE_HOME/protomesh`, else `~/.cache/protomesh`. */
export function defaultPgliteCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== "" ? env.XDG_CACHE_HOME : join(homedir(), ".cache");
  return join(base, "protomesh");
}

/** Where the template of the installed PGlite lives in `cacheDir`. */
export function pgliteTemplatePath(cacheDir: string): string {
  return join(cacheDir, `pglite-${installedPgliteVersion()}-initdb.tar`);
}

/** Whether `dataDir` already holds a cluster (PGlite then resumes it; a template must not be loaded into it). */
export function holdsCluster(dataDir: string): boolean {
  return existsSync(join(dataDir, "PG_VERSION"));
}

/** The template's tarball, or undefined when there is none yet or it cannot be read. */
export async function readPgliteTemplate(cacheDir: string): Promise<Blob | undefined> {
  try {
    return new Blob([await readFile(pgliteTemplatePath(cacheDir))]);
  } catch {
    return undefined;
  }
}

/**
 * Saves `client`'s cluster as the template; call it right after initdb, before anything is
 * written. Written under a temporary name and renamed, so a reader never sees half a file and
 * processes that race to save it leave one whole copy. A cache that cannot be written is skipped:
 * the next start runs initdb again.
 */
export async function savePgliteTemplate(client: PGlite, cacheDir: string): Promise<void> {
  const target = pgliteTemplatePath(cacheDir);
  const partial = `${target}.${process.pid}-${randomBytes(4).toString("hex")}.partial`;
  try {
    await mkdir(cacheDir, { recursive: true });
    const tarball = await client.dumpDataDir("none");
    await writeFile(partial, new Uint8Array(await tarball.arrayBuffer()));
    await rename(partial, target);
  } catch {
    await rm(partial, { force: true });
  }
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
