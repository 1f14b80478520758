// A pooled PostgreSQL connection that is dropped while checked out and between queries (a
// transaction awaiting other work, as a handler does around a payment call) must surface as a
// background error, not as an uncaught 'error' event that ends the process. A connection that
// dies as its transaction begins must not stay checked out forever (found by the PostgreSQL
// restart scenario: the pool shrank and closing the service never finished).
import pg from "pg";
import { sql } from "drizzle-orm";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "@protomesh/data";
import { createTestDatabase, type TestDatabase } from "../helpers/index.js";
import { isStatement, startWireTap } from "./wire-tap.js";

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

  it("gives a connection back to the pool when it dies on BEGIN, so closing does not hang", async () => {
    let cut = 0;
    const tap = await startWireTap(Number(new URL(database.url).port || 5432), "postgres", (message) => {
      if (cut > 0 || !isStatement(message, "begin")) return "forward";
      cut++;
      return "cut";
    });
    const tapped = new URL(database.url);
    tapped.port = String(tap.port);
    const opened = await openDatabase({ url: tapped.toString(), poolSize: 1, onBackgroundError: () => undefined });
    try {
      await expect(opened.db.transaction(async (tx) => tx.execute(sql`select 1`))).rejects.toThrow();
      expect(cut).toBe(1);
      // The only pooled connection died on BEGIN; the next transaction gets a fresh one.
      expect((await opened.db.transaction(async (tx) => tx.execute(sql`select 2 as two`))).rows).toEqual([{ two: 2 }]);
      const closed = await Promise.race([opened.close().then(() => "closed"), sleep(5_000).then(() => "still open after 5 s")]);
      expect(closed).toBe("closed");
    } finally {
      await tap.close();
    }
  });
});
