// The two databases every messaging suite runs on: embedded PGlite and the shared PostgreSQL.
import { fileURLToPath } from "node:url";
import { type Database, openDatabase } from "@protomesh/data";
import { createTestDatabase, type TestDatabase } from "../helpers/index.js";
import * as schema from "./fixtures/schema.js";

export const migrationsFolder = fileURLToPath(new URL("./fixtures/migrations", import.meta.url));
export type TestSchema = typeof schema;
export { schema };

export interface DatabaseBackend {
  name: "PGlite" | "PostgreSQL";
  /** Opens a fresh, migrated database; `open()` again reaches the same one (a second replica). */
  setup(): Promise<void>;
  open(): Promise<Database<TestSchema>>;
  teardown(): Promise<void>;
}

export function pgliteBackend(): DatabaseBackend {
  let shared: Database<TestSchema> | undefined;
  return {
    name: "PGlite",
    setup: async () => {
      shared = await openDatabase({ schema, migrationsFolder });
    },
    // One embedded database per process: "replicas" share the handle.
    open: () => (shared ? Promise.resolve(shared) : Promise.reject(new Error("setup first"))),
    teardown: async () => {
      await shared?.close();
    },
  };
}

export function postgresBackend(prefix: string): DatabaseBackend {
  let target: TestDatabase | undefined;
  const opened: Database<TestSchema>[] = [];
  return {
    name: "PostgreSQL",
    setup: async () => {
      target = await createTestDatabase(prefix);
    },
    open: async () => {
      const database = await openDatabase({ url: target?.url, schema, migrationsFolder });
      opened.push(database);
      return database;
    },
    teardown: async () => {
      await Promise.all(opened.map((d) => d.close()));
      await target?.drop();
    },
  };
}
