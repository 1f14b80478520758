// The check at start-up of the files and directories a configuration names (ConfiguredPath).
import { statSync } from "node:fs";
import { type PemContents, readPemFile } from "@protomesh/clients";
import { ConfigError, type ConfiguredPath } from "../config/index.js";

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
