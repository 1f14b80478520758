import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Each test file starts the service on its own embedded database.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
