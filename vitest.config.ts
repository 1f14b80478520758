import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

// Tests import the toolkit by package name ("@protomesh/server"), as the shop and users do; the
// same paths tsc type-checks with point those imports at the packages' TypeScript sources, so
// tests need no build of the packages. Exact matches only: "@protomesh/server" must not swallow
// "@protomesh/server/nest".
const tsconfig = JSON.parse(readFileSync(resolve(import.meta.dirname, "tsconfig.json"), "utf8")) as {
  compilerOptions: { paths: Record<string, [string]> };
};
const packageAliases = Object.entries(tsconfig.compilerOptions.paths).map(([name, [source]]) => ({
  find: new RegExp(`^${name.replace(/[/.]/g, "\\$&")}$`),
  replacement: resolve(import.meta.dirname, source),
}));

export default defineConfig({
  resolve: {
    alias: packageAliases,
    // The shop's own generated code ("protomesh/gen/...") resolves through the root package's
    // "source" export condition to the TypeScript in gen/.
    conditions: ["source"],
  },
  ssr: {
    resolve: {
      conditions: ["source"],
    },
  },
  test: {
    include: ["**/*.test.ts"],
    // Tests of the projects the packaging tests write (the starter's template, project-files);
    // they run there.
    exclude: ["node_modules/**", "**/dist/**", "starter/template/**", "test/packaging/project-files/**"],
    // Integration tests start real servers; give them room but fail a hang.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: run test files in two forked workers, so servers started by one file do not
    // starve another's timers.
    pool: "forks",
    maxWorkers: 2,
  },
});
