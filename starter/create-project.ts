import { existsSync } from "node:fs";
import { cp, mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";

export interface CreateProjectOptions {
  /** The directory to write; created when missing, refused when it holds anything. */
  directory: string;
  /** The new package's name. Default: the directory's name. */
  name?: string | undefined;
  /** The @protomesh/* version the project depends on, as `^<version>`. */
  protomeshVersion: string;
  /** The template to copy. Default: the template shipped beside this package's code. */
  templateDirectory?: string | undefined;
}

/** A refusal the user can act on (a bad name, a directory in use): printed without a stack trace. */
export class StarterError extends Error {
  override readonly name = "StarterError";
}

export function isStarterError(error: unknown): error is StarterError {
  return error instanceof Error && error.name === "StarterError";
}

// npm's rules for a new package name: lower case, URL-safe, at most 214 characters.
const PACKAGE_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

/** The template beside the package's code: dist/../template when built, ./template from the sources (tests). */
export const defaultTemplateDirectory = [resolve(import.meta.dirname, "..", "template"), resolve(import.meta.dirname, "template")].find((dir) =>
  existsSync(join(dir, "package.json")),
)!;

/** Writes a new contract-first service repository from the template; returns its absolute path. */
export async function createProject(options: CreateProjectOptions): Promise<string> {
  const directory = resolve(options.directory);
  const name = options.name ?? basename(directory);
  if (name.length > 214 || !PACKAGE_NAME.test(name)) {
    throw new StarterError(`"${name}" is not a valid npm package name: use lower-case letters, digits, "-", "." or "_"`);
  }
  const existing = await readdir(directory).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
  if (existing.length > 0) {
    throw new StarterError(`${directory} is not empty (${existing.slice(0, 3).join(", ")}${existing.length > 3 ? ", ..." : ""}): choose a new directory`);
  }
  await mkdir(directory, { recursive: true });
  await cp(options.templateDirectory ?? defaultTemplateDirectory, directory, { recursive: true });
  // npm leaves every .gitignore out of a package, so the template carries it without the dot.
  await rename(join(directory, "gitignore"), join(directory, ".gitignore"));

  const manifestPath = join(directory, "package.json");
  const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as Record<string, unknown>;
  manifest["name"] = name;
  for (const field of ["dependencies", "devDependencies"] as const) {
    const dependencies = manifest[field] as Record<string, string>;
    for (const dependency of Object.keys(dependencies)) {
      if (dependency.startsWith("@protomesh/")) dependencies[dependency] = `^${options.protomeshVersion}`;
    }
  }
  await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return directory;
}
