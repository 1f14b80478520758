import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // Tests import the package by name ("protomesh/clients"); the "source" export condition
    // points those imports at the TypeScript sources instead of dist/.
    conditions: ["source"],
  },
  ssr: {
    resolve: {
      conditions: ["source"],
    },
  },
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", "dist/**"],
    // Integration tests start real servers; give them room but fail a hang.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: run test files in two forked workers, so servers started by one file do not
    // starve another's timers.
    pool: "forks",
    maxWorkers: 2,
  },
});
