// A pooled PostgreSQL connection that is dropped while checked out and between queries (a
// transaction awaiting other work, as a handler does around a payment call) must surface as a
// background error, not as an uncaught 'error' event that ends the process.
import pg from "pg";
import { sql } from "drizzle-orm";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "protomesh/kit/data";
import { createTestDatabase, type TestDatabase } from "../helpers/index.js";

describe("a checked-out PostgreSQL connection is terminated", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase("fault_conn_loss");
  });
  afterAll(() => database?.drop());

  it("reports it as a background error and fails only that transaction", async () => {
    const background: unknown[] = [];
    const opened = await openDatabase({ url: database.url, onBackgroundError: (err) => background.push(err) });
    try {
      let backendPid: number | undefined;
      const transaction = opened.db
        .transaction(async (tx) => {
          backendPid = Number((await tx.execute(sql`select pg_backend_pid() as pid`)).rows[0]?.pid);
          await sleep(1_000);
          await tx.execute(sql`select 1`);
        })
        .then(
          () => "committed",
          () => "failed",
        );
      while (backendPid === undefined) await sleep(10);
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      await admin.query("select pg_terminate_backend($1)", [backendPid]);
      await admin.end();
      expect(await transaction).toBe("failed");
      expect(background.length).toBeGreaterThan(0);
      // The pool still serves queries on fresh connections.
      expect((await opened.db.execute(sql`select 1 as one`)).rows).toEqual([{ one: 1 }]);
    } finally {
      await opened.close();
    }
  });
});
