import { existsSync } from "node:fs";
import { resolve } from "node:path";

/**
 * Tests that run the compiled services need dist/; `npm test` builds it once before the tests,
 * so two test files never rebuild it under each other's running processes.
 */
export function requireBuild(): void {
  const serve = resolve(import.meta.dirname, "../../dist/services/serve.js");
  if (!existsSync(serve)) throw new Error(`${serve} is missing: run npm run build first (npm test does)`);
}
