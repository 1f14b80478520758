import { fileURLToPath } from "node:url";
import { eq, sql } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Database, openDatabase, prepareStatement } from "@protomesh/data";
import { createTestDatabase, type TestDatabase } from "../../test/helpers/index.js";
import * as schema from "./testdata/schema.js";

const migrationsFolder = fileURLToPath(new URL("./testdata/migrations", import.meta.url));
const { counters } = schema;

const insertCounter = prepareStatement((db) => db.insert(counters).values({ name: sql.placeholder("name"), value: sql.placeholder("value") }).returning({ name: counters.name }));
const counterValue = prepareStatement((db) => db.select({ value: counters.value }).from(counters).where(eq(counters.name, sql.placeholder("name"))));

// On PostgreSQL only: PGlite runs in the process, with no round trips to save.
describe("a transaction's BEGIN travels with its first statement (PostgreSQL)", () => {
  let testDb: TestDatabase;
  let database: Database<typeof schema>;
  let other: Database<typeof schema>;
  // Every answer the server finishes with ReadyForQuery: one per round trip.
  let roundTrips = 0;

  beforeAll(async () => {
    testDb = await createTestDatabase("begin_with_next");
    other = await openDatabase({ url: testDb.url, schema, migrationsFolder, poolSize: 1 });
    database = await openDatabase({ url: testDb.url, schema, poolSize: 1 });
    const counted = new WeakSet<pg.PoolClient>();
    (database.db as unknown as { $client: pg.Pool }).$client.on("acquire", (client) => {
      if (counted.has(client)) return;
      counted.add(client);
      (client as unknown as { connection: NodeJS.EventEmitter }).connection.on("readyForQuery", () => roundTrips++);
    });
  });
  afterAll(async () => {
    await database?.close();
    await other?.close();
    await testDb?.drop();
  });
  beforeEach(async () => {
    await database.db.delete(counters);
    // Parsed once on this connection, so the transactions below may join their BEGIN to it.
    await insertCounter.execute(database.db, { name: "warm-up", value: 0 });
    await counterValue.execute(database.db, { name: "warm-up" });
    await database.db.delete(counters);
    roundTrips = 0;
  });

  it("runs BEGIN, two statements and COMMIT in three round trips, and commits both", async () => {
    await database.db.transaction(async (tx) => {
      await insertCounter.execute(tx, { name: "a", value: 1 });
      await insertCounter.execute(tx, { name: "b", value: 2 });
    });
    expect(roundTrips).toBe(3);
    expect(await other.db.select().from(counters).orderBy(counters.name)).toEqual([
      { name: "a", value: 1 },
      { name: "b", value: 2 },
    ]);
  });

  it("sends through pg.Client's query as it is at the time, so what wraps it after the client was handed out sees every statement", async () => {
    const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const original = prototype.query;
    const seen: string[] = [];
    prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const [config] = args;
      seen.push(typeof config === "string" ? config : ((config as { text?: string } | undefined)?.text ?? ""));
      return original.apply(this, args);
    };
    try {
      await counterValue.execute(database.db, { name: "a" });
      await database.db.transaction((tx) => insertCounter.execute(tx, { name: "c", value: 3 }));
    } finally {
      prototype.query = original;
    }
    expect(seen.filter((text) => /^select\b/.test(text))).toHaveLength(1);
    expect(seen.filter((text) => /^insert\b/.test(text))).toHaveLength(1);
  });

  it("keeps the first statement inside the transaction: unseen by others until commit, undone by a rollback", async () => {
    let seenByOther: unknown[] = ["not read"];
    const failure = new Error("the work failed after its first write");
    await expect(
      database.db.transaction(async (tx) => {
        await insertCounter.execute(tx, { name: "a", value: 1 });
        seenByOther = await other.db.select().from(counters);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(seenByOther).toEqual([]);
    expect(await other.db.select().from(counters)).toEqual([]);
  });

  it("reports a first statement's error as its own and leaves the connection usable", async () => {
    await insertCounter.execute(database.db, { name: "a", value: 1 });
    const failed = database.db.transaction(async (tx) => {
      await insertCounter.execute(tx, { name: "a", value: 2 });
    });
    await expect(failed).rejects.toMatchObject({ cause: { code: "23505", constraint: "counters_pkey" } });
    // The same (only) connection, not left in an aborted transaction.
    await database.db.transaction(async (tx) => {
      await insertCounter.execute(tx, { name: "b", value: 3 });
    });
    expect(await counterValue.execute(database.db, { name: "b" })).toEqual([{ value: 3 }]);
  });

  it("sends nothing for a transaction that runs no statement", async () => {
    expect(await database.db.transaction(async () => "nothing to do")).toBe("nothing to do");
    expect(roundTrips).toBe(0);
  });

  it("keeps BEGIN's options: the isolation level holds for the first statement", async () => {
    const level = await database.db.transaction(
      async (tx) => {
        const result = await tx.execute(sql`select current_setting(${"transaction_isolation"}) as level`);
        return result.rows[0]?.level;
      },
      { isolationLevel: "serializable" },
    );
    expect(level).toBe("serializable");
    expect(roundTrips).toBe(2);
  });

  it("sends BEGIN alone before a statement it cannot join, with the same result", async () => {
    // No parameters: the simple protocol, which may carry several statements with an answer each.
    const rows = await database.db.transaction(async (tx) => (await tx.execute(sql`select 41 + 1 as answer`)).rows);
    expect(rows).toEqual([{ answer: 42 }]);
    expect(roundTrips).toBe(3);
  });

  it("sends BEGIN alone before a prepared statement this connection has not parsed yet", async () => {
    const firstUse = prepareStatement((db) => db.select({ value: counters.value }).from(counters).where(eq(counters.name, sql.placeholder("name"))).limit(1));
    await insertCounter.execute(database.db, { name: "a", value: 5 });
    roundTrips = 0;
    const read = () => database.db.transaction(async (tx) => firstUse.execute(tx, { name: "a" }));
    expect(await read()).toEqual([{ value: 5 }]);
    expect(roundTrips).toBe(3);
    roundTrips = 0;
    expect(await read()).toEqual([{ value: 5 }]);
    expect(roundTrips).toBe(2);
  });

  describe("what it must not hold back", () => {
    const rawClient = () => (database.db as unknown as { $client: pg.Pool }).$client.connect();
    const rows = () => other.db.select().from(counters).orderBy(counters.name);

    it("a raw client's BEGIN, even one that carries more statements", async () => {
      const client = await rawClient();
      try {
        await client.query("begin; insert into counters values ('raw', 1); commit");
      } finally {
        client.release();
      }
      expect(await rows()).toEqual([{ name: "raw", value: 1 }]);
    });

    it("a BEGIN inside a transaction: the COMMIT after it still commits", async () => {
      await database.db.transaction(async (tx) => {
        await insertCounter.execute(tx, { name: "inner", value: 1 });
        // PostgreSQL only warns that a transaction is in progress.
        await tx.execute(sql`begin`);
      });
      expect(await rows()).toEqual([{ name: "inner", value: 1 }]);
    });

    it("the statement after a BEGIN that failed: it fails with the BEGIN's error and runs nowhere", async () => {
      const client = await rawClient();
      try {
        // drizzle's shape of call, with a BEGIN the server refuses; sent alone before a statement
        // without parameters, so its error must stop that statement from running in autocommit.
        expect(await client.query({ text: "begin isolation level serialisable" }, [])).toMatchObject({ command: "BEGIN" });
        await expect(client.query({ text: "insert into counters values ('autocommitted', 1)" }, [])).rejects.toThrow(/syntax error/);
      } finally {
        client.release();
      }
      expect(await rows()).toEqual([]);
    });

    it("a statement node-postgres refuses: that query fails, the next gets its own answer", async () => {
      const client = await rawClient();
      try {
        await client.query({ text: "begin" }, []);
        await expect(client.query({ text: "select $1::int as n", values: [1] }, {} as unknown as unknown[])).rejects.toThrow(/must be an array/);
        const after = await client.query({ text: "select $1::int as n" }, [7]);
        expect(after).toMatchObject({ command: "SELECT", rows: [{ n: 7 }] });
        await client.query({ text: "rollback" }, []);
      } finally {
        client.release();
      }
    });
  });
});

