import { randomBytes } from "node:crypto";
import { createDatabase, dropDatabase } from "@protomesh/data";

/** The shared PostgreSQL every developer and CI machine runs. */
export const SHARED_POSTGRES_URL = process.env.PROTOMESH_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** A throwaway database with a unique name on a PostgreSQL server. */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** Terminates its connections and drops it. */
  drop(): Promise<void>;
}

/**
 * Creates `<prefix>_<random>` on the shared PostgreSQL (or the server at `serverUrl`).
 * Call `drop()` in afterAll.
 */
export async function createTestDatabase(prefix: string, serverUrl = SHARED_POSTGRES_URL): Promise<TestDatabase> {
  const safe = prefix.toLowerCase().replace(/[^a-z0-9_]/g, "_").slice(0, 40);
  const name = `pmt_${safe}_${randomBytes(4).toString("hex")}`;
  const url = await createDatabase(serverUrl, name);
  return { name, url, drop: () => dropDatabase(serverUrl, name) };
}
