import { afterEach } from "vitest";

/**
 * Registers an afterEach that runs, newest first, whatever the test deferred; returns `defer`.
 * Call it once at the top of a test file.
 */
export function useCleanup(): (cleanup: () => unknown) => void {
  const pending: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of pending.splice(0).reverse()) await cleanup();
  });
  return (cleanup) => {
    pending.push(cleanup);
  };
}
