import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SHARED_POSTGRES_URL } from "../../test/helpers/databases.js";
import { countQueries, queryTotals } from "./query-count.js";

const client = new pg.Client({ connectionString: SHARED_POSTGRES_URL });
beforeAll(async () => {
  countQueries();
  await client.connect();
});
afterAll(async () => {
  await client.end();
});

it("counts a round trip per query, each statement of a multi-statement text, and names the table a write changes", async () => {
  const before = queryTotals();
  await client.query("begin");
  await client.query('create temp table "outbox" (id int)');
  await client.query({ text: 'insert into "outbox" ("id") values ($1)' }, [1]);
  await client.query('update "outbox" set "id" = $1', [2]);
  await client.query("delete from outbox; select 1");
  await client.query("commit");
  const after = queryTotals();
  expect(after.roundTrips - before.roundTrips).toBe(6);
  expect(after.statements - before.statements).toBe(7);
  const delta = Object.fromEntries(Object.entries(after.byKind).map(([kind, n]) => [kind, n - (before.byKind[kind] ?? 0)]));
  expect(delta).toMatchObject({ begin: 1, create: 1, "insert outbox": 1, "update outbox": 1, "delete outbox": 1, select: 1, commit: 1 });
});
