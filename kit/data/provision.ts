import type pg from "pg";

/**
 * Creates database `name` on the PostgreSQL server at `serverUrl` (connected as a user allowed
 * to create databases) and returns the URL that reaches it. Used for throwaway databases (the
 * demo, tests) and for first-time set-up; migrations then run when a service opens it.
 */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const { escapeIdentifier } = await loadPg();
  await runAdminStatement(serverUrl, `create database ${escapeIdentifier(name)}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops database `name` if it exists, closing its open connections first. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const { escapeIdentifier } = await loadPg();
  await runAdminStatement(serverUrl, `drop database if exists ${escapeIdentifier(name)} with (force)`);
}

// CREATE/DROP DATABASE cannot run in a transaction or on a pooled connection bound to the target
// database, so each statement gets its own short-lived client.
async function runAdminStatement(serverUrl: string, statement: string): Promise<void> {
  const { Client } = await loadPg();
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

// pg is an optional peer dependency: loaded on first use, so PGlite-only apps need not install it.
async function loadPg(): Promise<typeof pg> {
  return (await import("pg")).default;
}
