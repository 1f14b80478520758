// The toolkit's boundaries, checked on every `npm test` (ADR 0129):
//   1. no file of a toolkit package (clients/, kit/*) imports the shop: services/, the shop's
//      generated code, or the repository's root package;
//   2. no published file reaches outside its own package except through a package name it
//      declares (dependencies or peer dependencies), so what builds here also installs from npm;
//   3. a core entry point (every export but "./nest") never reaches @nestjs/* or rxjs, however
//      many files lie in between.
// Tests inside a package may import the repository's test helpers and the test-only contract,
// never the shop.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

interface PackageManifest {
  name: string;
  /** The libraries' entry points. */
  exports?: Record<string, { default: string }>;
  /** The starter's command (create-protomesh has no exports). */
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

export interface Violation {
  file: string;
  specifier: string;
  rule: string;
}

/** Source overrides by repository-relative path: lets a test plant a violation without writing it. */
export type Overlay = Readonly<Record<string, string>>;

const NEST_ONLY = [/^@nestjs\//, /^rxjs(\/|$)/];
const FRAMEWORK_ENTRY = "./nest";

export function toolkitPackages(root: string): string[] {
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { workspaces: string[] };
  return manifest.workspaces;
}

export function findViolations(root: string, overlay: Overlay = {}): Violation[] {
  const read = (path: string): string | undefined => {
    const key = relative(root, path);
    if (key in overlay) return overlay[key];
    return existsSync(path) ? readFileSync(path, "utf8") : undefined;
  };
  const violations: Violation[] = [];
  for (const packageDir of toolkitPackages(root)) {
    const dir = join(root, packageDir);
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as PackageManifest;
    const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {}), manifest.name]);
    const entries = [
      ...Object.entries(manifest.exports ?? {}).map(([subpath, target]) => [subpath, target.default] as const),
      ...Object.entries(manifest.bin ?? {}).map(([command, target]) => [`./bin/${command}`, target] as const),
    ];
    for (const [subpath, target] of entries) {
      const entry = join(dir, target.replace(/^(\.\/)?dist\//, "").replace(/\.js$/, ".ts"));
      const core = subpath !== FRAMEWORK_ENTRY;
      walk(entry, (file, specifier, resolved) => {
        const where = relative(root, file);
        if (resolved === undefined) {
          const name = packageName(specifier);
          if (name === "protomesh") violations.push({ file: where, specifier, rule: "imports the shop's root package" });
          else if (!specifier.startsWith("node:") && !declared.has(name)) {
            violations.push({ file: where, specifier, rule: `imports ${name}, which ${manifest.name} does not declare` });
          }
          if (core && NEST_ONLY.some((pattern) => pattern.test(specifier))) {
            violations.push({ file: where, specifier, rule: `reaches a framework from the core entry ${manifest.name}${subpath.slice(1)}` });
          }
        } else if (!resolved.startsWith(dir + "/")) {
          violations.push({ file: where, specifier, rule: `reaches outside ${packageDir}/ (${relative(root, resolved)})` });
        }
      });
    }
    for (const test of testFiles(dir, overlay, root)) {
      const source = read(test);
      if (source === undefined) continue;
      for (const specifier of importsOf(source)) {
        const target = specifier.startsWith(".") ? relative(root, resolve(dirname(test), specifier)) : specifier;
        if (/^(services|gen)\//.test(target) || packageName(specifier) === "protomesh") {
          violations.push({ file: relative(root, test), specifier, rule: "a toolkit test imports the shop; use the test-only contract (test/contract)" });
        }
      }
    }
  }
  return violations;

  function walk(entry: string, visit: (file: string, specifier: string, resolved: string | undefined) => void): void {
    const seen = new Set<string>();
    const pending = [entry];
    for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
      if (seen.has(file)) continue;
      seen.add(file);
      const source = read(file);
      if (source === undefined) throw new Error(`${relative(root, file)} is imported but does not exist`);
      for (const specifier of importsOf(source)) {
        if (!specifier.startsWith(".")) {
          visit(file, specifier, undefined);
          continue;
        }
        const resolved = resolve(dirname(file), specifier).replace(/\.js$/, ".ts");
        visit(file, specifier, resolved);
        pending.push(resolved);
      }
    }
  }
}

function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((file) => file.fileName);
}

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}

function testFiles(dir: string, overlay: Overlay, root: string): string[] {
  const tracked = ts.sys.readDirectory(dir, [".ts"], ["**/node_modules", "**/dist"], ["**/*.test.ts"]);
  const planted = Object.keys(overlay)
    .map((path) => join(root, path))
    .filter((path) => path.startsWith(dir + "/") && path.endsWith(".test.ts"));
  return [...new Set([...tracked, ...planted])];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = resolve(import.meta.dirname, "..");
  const violations = findViolations(root);
  for (const { file, specifier, rule } of violations) console.error(`${file}: "${specifier}" ${rule}`);
  if (violations.length > 0) {
    console.error(`boundaries: ${violations.length} violation(s) (see docs/adr/0129-toolkit-boundaries.md)`);
    process.exit(1);
  }
  console.log(`boundaries: ok (${toolkitPackages(root).length} packages)`);
}
