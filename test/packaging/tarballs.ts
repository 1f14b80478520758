// What the tests of installed packages share: this repository's layout, a shell that times each
// step, the versions CI tests, and the workspace packages packed into tarballs (ADR 0130).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
export const repo = resolve(import.meta.dirname, "../..");
export const repoBin = join(repo, "node_modules/.bin");
export const rootPackage = JSON.parse(await readFile(join(repo, "package.json"), "utf8")) as { workspaces: string[] };
const lockfile = JSON.parse(await readFile(join(repo, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string }> };

export interface PackResult {
  name: string;
  filename: string;
  files: { path: string }[];
}

export interface WorkspaceManifest {
  name: string;
  version: string;
  // `require.types`: the CommonJS twins of the declarations (ADR 0130); the code is ESM for both.
  exports?: Record<string, { require: { types: string }; types: string; default: string }>;
  bin?: Record<string, string>;
}

export async function workspaceManifest(workspace: string): Promise<WorkspaceManifest> {
  return JSON.parse(await readFile(join(repo, workspace, "package.json"), "utf8")) as WorkspaceManifest;
}

/** The library packages (@protomesh/*): every workspace with an exports map; the starter has none. */
export async function libraryWorkspaces(): Promise<string[]> {
  const manifests = await Promise.all(rootPackage.workspaces.map(async (w) => [w, await workspaceManifest(w)] as const));
  return manifests.filter(([, m]) => m.exports !== undefined).map(([w]) => w);
}

/** The version this repository's lockfile installs: what CI tests the packages against. */
export function lockedVersion(name: string): string {
  const version = lockfile.packages[`node_modules/${name}`]?.version;
  if (version === undefined) throw new Error(`${name} is not in package-lock.json`);
  return version;
}

export type Shell = (command: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv) => Promise<string>;

/** Runs commands, failing with their output, and adds "<seconds> s  <command> (<dir>)" to `timings`. */
export function timedShell(timings: string[]): Shell {
  return async (command, args, cwd, env = {}) => {
    const started = performance.now();
    try {
      const { stdout } = await run(command, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
      timings.push(`${((performance.now() - started) / 1000).toFixed(1)} s  ${command.split("/").at(-1)} ${args.slice(0, 2).join(" ")} (${cwd.split("/").at(-1)})`);
      return stdout;
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: string; stderr?: string };
      throw new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${stdout ?? ""}\n${stderr ?? ""}`, { cause: error });
    }
  };
}

/** Fails unless every workspace was built: the tarballs hold dist/, not sources. */
export function requireBuild(): void {
  for (const workspace of rootPackage.workspaces) {
    const built = ["dist/index.js", "dist/cli.js"].map((file) => join(repo, workspace, file));
    if (!built.some((file) => existsSync(file))) throw new Error(`${workspace}/dist is missing: run npm run build first (npm test does)`);
  }
}

/** `npm pack` of every workspace package into `destination`. */
export async function packWorkspaces(sh: Shell, destination: string): Promise<PackResult[]> {
  return JSON.parse(await sh("npm", ["pack", "--workspaces", "--json", "--pack-destination", destination], repo)) as PackResult[];
}
