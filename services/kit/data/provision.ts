import pg from "pg";

/**
 * Creates database `name` on the PostgreSQL server at `serverUrl` (connected as a user allowed
 * to create databases) and returns the URL that reaches it. Used for throwaway databases (the
 * demo, tests) and for first-time set-up; migrations then run when a service opens it.
 */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  await runAdminStatement(serverUrl, `create database ${pg.escapeIdentifier(name)}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops database `name` if it exists, closing its open connections first. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await runAdminStatement(serverUrl, `drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
}

// CREATE/DROP DATABASE cannot run in a transaction or on a pooled connection bound to the target
// database, so each statement gets its own short-lived client.
async function runAdminStatement(serverUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
