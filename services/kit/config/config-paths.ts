// Files and directories that variables name, checked when a service starts rather than when its
// configuration is parsed: a configuration is also read where its files do not exist (from
// deployment manifests, in tests).
import { statSync } from "node:fs";
import { type PemContents, readPemFile } from "protomesh/clients";
import { ConfigError } from "./env-config.js";

/** A path a variable names and what must be there. */
export interface ConfiguredPath {
  variable: string;
  path: string;
  /** PEM certificates, a PEM private key, or a directory (made when missing). */
  holds: PemContents | "directory";
}

/** ConfiguredPaths of the variables that are set, from [variable, path, holds] entries. */
export function pathsOf(entries: readonly (readonly [variable: string, path: string | undefined, holds: ConfiguredPath["holds"]])[]): ConfiguredPath[] {
  return entries.flatMap(([variable, path, holds]) => (path === undefined ? [] : [{ variable, path, holds }]));
}

/** Throws a ConfigError naming each variable whose path does not hold what it must. */
export function checkConfiguredPaths(paths: readonly ConfiguredPath[]): void {
  const problems: string[] = [];
  for (const { variable, path, holds } of paths) {
    const problem = holds === "directory" ? notADirectory(path) : notPem(path, holds);
    if (problem !== undefined) problems.push(`${variable}: ${problem}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

function notADirectory(path: string): string | undefined {
  const stats = statSync(path, { throwIfNoEntry: false });
  if (stats === undefined || stats.isDirectory()) return undefined;
  return `${path} is ${stats.isFile() ? "a file" : "not a directory"}; it must be a directory (or not exist yet)`;
}

function notPem(path: string, contents: PemContents): string | undefined {
  try {
    readPemFile(path, contents);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
