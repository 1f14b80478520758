// The client drizzle gets on the PGlite that openDatabase opens: drizzle's queries go without a
// per-query parsers table (docs/adr/0147) and prepareStatement's statements are parsed once
// (docs/adr/0148). What drizzle returns must not change: each query is compared with the same
// query through drizzle on a PGlite of its own.
import { PGlite, types } from "@electric-sql/pglite";
import { eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/pglite";
import { date, integer, interval, numeric, pgTable, timestamp } from "drizzle-orm/pg-core";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { columnPlaceholder, type Database, openDatabase, prepareStatement, toDataError } from "@protomesh/data";

const moments = pgTable("moments", {
  id: integer("id").primaryKey(),
  at: timestamp("at"),
  atZoned: timestamp("at_zoned", { withTimezone: true }),
  atZonedAsText: timestamp("at_zoned_as_text", { withTimezone: true, mode: "string" }),
  day: date("day"),
  span: interval("span"),
  amounts: numeric("amounts").array(),
  ats: timestamp("ats").array(),
  atsZoned: timestamp("ats_zoned", { withTimezone: true }).array(),
  days: date("days").array(),
  spans: interval("spans").array(),
});
const schema = { moments };

const createMoments = `create table moments (
  id integer primary key, at timestamp, at_zoned timestamptz, at_zoned_as_text timestamptz, day date, span interval,
  amounts numeric[], ats timestamp[], ats_zoned timestamptz[], days date[], spans interval[]
)`;
const row = {
  id: 1,
  at: new Date("2026-12-07T10:11:12.345Z"),
  atZoned: new Date("2026-12-07T10:11:12.345Z"),
  atZonedAsText: "2026-12-07 10:11:12.345+00",
  day: "2026-12-07",
  span: "1 day 02:03:04",
  amounts: ["1.50", "20.25"],
  ats: [new Date("2026-01-02T03:04:05.000Z")],
  atsZoned: [new Date("2026-01-02T03:04:05.000Z"), new Date("2026-06-07T08:09:10.000Z")],
  days: ["2026-01-02"],
  spans: ["00:00:01"],
};

const momentById = prepareStatement((db) => db.select().from(moments).where(eq(moments.id, sql.placeholder("id"))));
const insertMoment = prepareStatement((db) =>
  db
    .insert(moments)
    .values({ id: sql.placeholder("id"), atZoned: columnPlaceholder("at", moments.atZoned), span: sql.placeholder("span") })
    .returning({ id: moments.id, atZoned: moments.atZoned }),
);
const notify = prepareStatement(() => sql`select pg_notify('moments', ${sql.placeholder("payload")}::text)`);

/** The types of the frontend messages in a protocol buffer, e.g. "BES" for Bind, Execute, Sync. */
function messageTypes(buffer: Uint8Array): string {
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let types = "";
  for (let offset = 0; offset < buffer.byteLength; offset += 1 + view.getInt32(offset + 1)) types += String.fromCharCode(view.getUint8(offset));
  return types;
}

describe("drizzle on the PGlite openDatabase opens", () => {
  let database: Database<typeof schema>;
  let reference: ReturnType<typeof drizzle<typeof schema>>;
  let referenceClient: PGlite;
  beforeAll(async () => {
    database = await openDatabase({ schema });
    await database.db.execute(sql.raw(createMoments));
    await database.db.insert(moments).values(row);
    referenceClient = new PGlite();
    reference = drizzle({ client: referenceClient, schema });
    await reference.execute(sql.raw(createMoments));
    await reference.insert(moments).values(row);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  afterAll(async () => {
    await database.close();
    await referenceClient.close();
  });

  const queries: Record<string, (db: typeof reference) => PromiseLike<unknown>> = {
    "a select": (db: typeof reference) => db.select().from(moments),
    "a relational query": (db: typeof reference) => db.query.moments.findFirst(),
    "a returning insert": (db: typeof reference) =>
      db
        .insert(moments)
        .values({ ...row, id: 2 })
        .onConflictDoUpdate({ target: moments.id, set: { span: row.span } })
        .returning(),
    "a raw statement": (db: typeof reference) => db.execute(sql`select at, at_zoned, day, span, amounts, ats, ats_zoned, days, spans from moments where id = 1`),
  };

  it.each(Object.entries(queries))("returns what drizzle returns on its own PGlite for %s, in and out of a transaction", async (_name, query) => {
    const expected = await query(reference);
    const db = database.db as unknown as typeof reference;
    expect(await query(db)).toEqual(expected);
    expect(await db.transaction(async (tx) => await query(tx as unknown as typeof reference))).toEqual(expected);
  });

  it("returns what drizzle returns for a prepared statement, in and out of a transaction", async () => {
    const expected = await reference.select().from(moments).where(eq(moments.id, 1));
    expect(await momentById.execute(database.db, { id: 1 })).toEqual(expected);
    expect(await database.db.transaction((tx) => momentById.execute(tx, { id: 1 }))).toEqual(expected);
  });

  it("sends drizzle's queries to PGlite without a parsers table", async () => {
    const query = vi.spyOn(PGlite.prototype, "query");
    await database.db.select().from(moments).where(eq(moments.id, 1));
    expect(query).toHaveBeenCalledTimes(1);
    expect(query.mock.calls[0]?.[2]).not.toHaveProperty("parsers");
  });

  it("parses a prepared statement once, then binds and executes it in one call, in and out of transactions", async () => {
    const execProtocol = vi.spyOn(PGlite.prototype, "execProtocol");
    const query = vi.spyOn(PGlite.prototype, "query");
    const expected = await reference.select().from(moments).where(eq(moments.id, 1));
    execProtocol.mockClear();
    query.mockClear();
    const byId = prepareStatement((db) => db.select().from(moments).where(eq(moments.id, sql.placeholder("id"))).limit(1));
    expect(await byId.execute(database.db, { id: 1 })).toEqual(expected);
    expect(execProtocol).toHaveBeenCalledTimes(2);
    // Parse and describe the statement (its parameters and rows), then bind and execute: the rows'
    // description is kept with the statement, not asked for again on every run.
    expect(execProtocol.mock.calls.map(([message]) => messageTypes(message))).toEqual(["PDS", "BES"]);
    expect(await byId.execute(database.db, { id: 1 })).toEqual(expected);
    expect(await database.db.transaction((tx) => byId.execute(tx, { id: 1 }))).toEqual(expected);
    expect(await byId.execute(database.db, { id: 99 })).toEqual([]);
    expect(execProtocol).toHaveBeenCalledTimes(5);
    expect(query).not.toHaveBeenCalled();
  });

  it("serializes a prepared statement's values as PGlite's query does, and rolls its writes back with the transaction", async () => {
    const at = new Date("2026-03-04T05:06:07.089Z");
    expect(await insertMoment.execute(database.db, { id: 10, at, span: "3 hours" })).toEqual([{ id: 10, atZoned: at }]);
    await expect(
      database.db.transaction(async (tx) => {
        await insertMoment.execute(tx, { id: 11, at, span: "1 minute" });
        tx.rollback();
      }),
    ).rejects.toThrow();
    expect(await database.db.select({ id: moments.id, span: moments.span }).from(moments).where(sql`${moments.id} >= 10`)).toEqual([{ id: 10, span: "03:00:00" }]);
  });

  it("fails a prepared statement with the database's error, the transaction with it, and goes on serving", async () => {
    const duplicate = await insertMoment.execute(database.db, { id: 1, at: null, span: null }).catch((err: unknown) => err);
    expect(toDataError(duplicate).code).toBe("unique_violation");
    const inTransaction = await database.db
      .transaction(async (tx) => {
        await insertMoment.execute(tx, { id: 20, at: null, span: null });
        await insertMoment.execute(tx, { id: 1, at: null, span: null });
      })
      .catch((err: unknown) => err);
    expect(toDataError(inTransaction).code).toBe("unique_violation");
    expect(await momentById.execute(database.db, { id: 20 })).toEqual([]);
    expect(await momentById.execute(database.db, { id: 1 })).toHaveLength(1);
  });

  it("delivers what a prepared statement notifies, once its transaction commits", async () => {
    const received: string[] = [];
    const unlisten = await database.listen("moments", (payload) => received.push(payload));
    try {
      await notify.execute(database.db, { payload: "alone" });
      await database.db.transaction(async (tx) => {
        await notify.execute(tx, { payload: "in a transaction" });
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(received).toEqual(["alone"]);
      });
      await expect.poll(() => received).toEqual(["alone", "in a transaction"]);
    } finally {
      await unlisten();
    }
  });

  it("leaves an application's own parsers on db.$client alone, in and out of its transactions", async () => {
    const client = (database.db as unknown as { $client: PGlite }).$client;
    const query = "select '2026-12-07 10:11:12+00'::timestamptz as at";
    for (const parse of [(value: string) => value.replace(" ", "T"), (value: string) => new Date(value).toISOString()]) {
      const options = { parsers: { [types.TIMESTAMPTZ]: parse } };
      const expected = (await referenceClient.query(query, [], options)).rows;
      expect((await client.query(query, [], options)).rows).toEqual(expected);
      expect((await client.transaction((tx) => tx.query(query, [], options))).rows).toEqual(expected);
    }
  });

  it("parses a statement again after it failed: one whose column changed type under it fails once, not for good", async () => {
    await database.db.execute(sql`create table renamed (id integer primary key, name text, amount integer)`);
    await database.db.execute(sql`insert into renamed values (1, 'a', 5)`);
    const byId = prepareStatement(() => sql`select name from renamed where id = ${sql.placeholder("id")}`);
    const setAmount = prepareStatement(() => sql`update renamed set amount = ${sql.placeholder("amount")} where id = 1`);
    expect((await byId.execute(database.db, { id: 1 })).rows).toEqual([{ name: "a" }]);
    await setAmount.execute(database.db, { amount: 6 });
    await database.db.execute(sql`alter table renamed alter column name type varchar(20), alter column amount type jsonb using to_jsonb(amount)`);
    const outcome = (run: Promise<unknown>) => run.then(() => "ok", (err: Error) => (err.cause as Error | undefined)?.message ?? err.message);
    expect(await outcome(byId.execute(database.db, { id: 1 }))).toBe("cached plan must not change result type");
    expect((await byId.execute(database.db, { id: 1 })).rows).toEqual([{ name: "a" }]);
    expect(await outcome(setAmount.execute(database.db, { amount: JSON.stringify({ cents: 7 }) }))).not.toBe("ok");
    expect(await outcome(setAmount.execute(database.db, { amount: JSON.stringify({ cents: 7 }) }))).toBe("ok");
  });

  it("runs its statements again after the application deallocates them, and beside a statement the application named", async () => {
    const client = (database.db as unknown as { $client: PGlite }).$client;
    const first = await momentById.execute(database.db, { id: 1 });
    await client.exec("deallocate all");
    await momentById.execute(database.db, { id: 1 }).catch(() => undefined);
    expect(await momentById.execute(database.db, { id: 1 })).toEqual(first);
    await client.exec("prepare protomesh_1 as select 1");
    const another = prepareStatement((db) => db.select({ id: moments.id }).from(moments).where(eq(moments.id, sql.placeholder("id"))));
    expect(await another.execute(database.db, { id: 1 })).toEqual([{ id: 1 }]);
  });

  it("returns a COPY's blob from a prepared statement and leaves none for the next query", async () => {
    const copy = prepareStatement(() => sql`copy (select 1 as one) to '/dev/blob'`);
    const copied = (await copy.execute(database.db)) as { blob?: Blob };
    expect(await copied.blob?.text()).toBe("1\n");
    const client = (database.db as unknown as { $client: PGlite }).$client;
    expect(await client.query("select 1 as one")).not.toHaveProperty("blob");
  });

  it("names the statement and its values in a prepared statement's error, as PGlite's query does", async () => {
    const err = (await insertMoment.execute(database.db, { id: 1, at: null, span: null }).catch((e: unknown) => e)) as Error;
    expect(err.cause).toMatchObject({ code: "23505", query: expect.stringContaining('insert into "moments"'), params: [1, null, null] });
  });

  it("passes drizzle's parsers again once the client's array parsers were refreshed, and still returns text", async () => {
    const client = (database.db as unknown as { $client: PGlite }).$client;
    await client.refreshArrayTypes();
    const query = vi.spyOn(PGlite.prototype, "query");
    const expected = await reference.select().from(moments).where(eq(moments.id, 1));
    query.mockClear();
    expect(await database.db.select().from(moments).where(eq(moments.id, 1))).toEqual(expected);
    expect(query.mock.calls[0]?.[2]).toHaveProperty("parsers");
  });
});
