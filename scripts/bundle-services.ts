// Bundles each built service (dist/services/<name>/main.js) into one file beside it,
// main.bundle.js, which `serve` runs (ADR 0152). A service's start spent about a second of CPU
// resolving and reading some 1 700 module files; from one file it spends a third of that.
import { build } from "esbuild";
import { readFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Imports left for Node to resolve from node_modules when the bundle runs. */
const externalPackages = [
  // Packages that read their own files at run time, which a bundle would not carry: PGlite its
  // WebAssembly and data, socket.io its browser client, ioredis its package.json, pino its
  // transports' worker.
  "@electric-sql/pglite",
  "socket.io",
  "ioredis",
  "pino",
  // Nest's optional integrations, which the shop does not install: Nest imports them only when a
  // transport or pipe that needs them is used, and then names the missing package.
  "amqp-connection-manager",
  "class-transformer",
  "class-validator",
  "kafkajs",
  "mqtt",
];

// CommonJS code in an ES module bundle still calls require() for Node's modules and the externals.
const defineRequire = `import { createRequire as __bundleRequire } from "node:module"; const require = __bundleRequire(import.meta.url);`;

// Modules whose `import.meta` only resolves packages from node_modules (Nest's optional ones,
// PGlite), which works from the bundle too, or finds a file the build copies beside the bundle (a
// service's migrations).
const importMetaAllowed = [/^node_modules\/@nestjs\//, /^kit\/data\/dist\/pglite-template\.js$/, /^dist\/services\/[^/]+\/service\.js$/];

function usesItsPath(module: string, line: string): boolean {
  return /\b__(dirname|filename)\b/.test(line) || (/\bimport\.meta\b/.test(line) && !importMetaAllowed.some((allowed) => allowed.test(module)));
}

/**
 * Code that finds files next to its own module (CommonJS's __dirname and __filename, an ES
 * module's import.meta) would look beside the bundle instead: such a package must be external.
 * Names each bundled module that does, other than those known to be safe.
 */
function modulesUsingTheirPath(bundleText: string): string[] {
  const offenders = new Set<string>();
  // esbuild heads each module's code with a comment naming it, relative to the working directory;
  // before the first is the banner.
  let current: string | undefined;
  for (const line of bundleText.split("\n")) {
    const heading = /^\/\/ (\S+\.[cm]?[jt]s)$/.exec(line);
    if (heading?.[1] !== undefined) current = heading[1];
    else if (current !== undefined && usesItsPath(current, line)) offenders.add(current);
  }
  return [...offenders];
}

async function bundleService(service: string): Promise<void> {
  const dir = join(root, "dist", "services", service);
  const outfile = join(dir, "main.bundle.js");
  await build({
    entryPoints: [join(dir, "main.js")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20.19",
    // Nest names classes in its errors and logs ("can't resolve dependencies of OrdersService").
    keepNames: true,
    sourcemap: "linked",
    external: externalPackages,
    // The toolkit's packages as the build made them (through node_modules, as a user's app gets
    // them), not the sources the editor's tsconfig.json maps their names to.
    tsconfig: join(root, "tsconfig.build.json"),
    banner: { js: defineRequire },
    logLevel: "warning",
  });
  const offenders = modulesUsingTheirPath(await readFile(outfile, "utf8"));
  if (offenders.length > 0) {
    throw new Error(`${relative(root, outfile)}: ${offenders.join(", ")} find files beside their own module; add their package to externalPackages in scripts/bundle-services.ts`);
  }
}

for (const service of ["orders", "inventory", "payments"]) await bundleService(service);
