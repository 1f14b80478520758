import { randomBytes } from "node:crypto";
import pg from "pg";

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
  await admin(serverUrl, `create database "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => admin(serverUrl, `drop database if exists "${name}" with (force)`),
  };
}

async function admin(serverUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
