// Runs a suite on both database backends the services support: embedded PGlite and the
// shared PostgreSQL (a throwaway database per suite).
import { openDatabase, type Database } from "@protomesh/data";
import { createTestDatabase, type TestDatabase } from "../helpers/index.js";

export type Backend = "pglite" | "postgres";
export const backends: Backend[] = ["pglite", "postgres"];

export async function openServiceDatabase(backend: Backend, service: "orders" | "inventory" | "payments"): Promise<{ database: Database; close: () => Promise<void>; url: string | undefined }> {
  const migrationsFolder = new URL(`../../services/${service}/migrations`, import.meta.url).pathname;
  if (backend === "pglite") {
    const database = await openDatabase({ migrationsFolder });
    return { database, url: undefined, close: () => database.close() };
  }
  const testDb: TestDatabase = await createTestDatabase(service);
  const database = await openDatabase({ url: testDb.url, migrationsFolder, poolSize: 20 });
  return {
    database,
    url: testDb.url,
    close: async () => {
      await database.close();
      await testDb.drop();
    },
  };
}
