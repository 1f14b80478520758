// Files and directories that variables name. The configuration lists them; the host checks them
// when the service starts (services/kit/host/check-paths.ts), not when the configuration is parsed:
// a configuration is also read where its files do not exist (from deployment manifests, in tests).

import type { PemContents } from "@protomesh/clients";

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
