import { fileURLToPath } from "node:url";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { integer, jsonb, pgTable, timestamp } from "drizzle-orm/pg-core";
import { columnPlaceholder, type Database, openDatabase, prepareStatement } from "@protomesh/data";
import { createTestDatabase, type TestDatabase } from "../../test/helpers/index.js";
import * as schema from "./testdata/schema.js";

const migrationsFolder = fileURLToPath(new URL("./testdata/migrations", import.meta.url));
const { counters } = schema;

// Module-level, as callers keep them: one statement serves both drivers and every transaction.
const insertCounter = prepareStatement((db) =>
  db.insert(counters).values({ name: sql.placeholder("name"), value: sql.placeholder("value") }).onConflictDoNothing().returning({ name: counters.name }),
);
const counterByName = prepareStatement((db) => db.select().from(counters).where(eq(counters.name, sql.placeholder("name"))).for("update"));
const addToCounter = prepareStatement<{ value: number }>(() => sql`update ${counters} set value = value + ${sql.placeholder("by")} where name = ${sql.placeholder("name")} returning value`);

// Made by the test itself: the columns whose encoders columnPlaceholder applies.
const notes = pgTable("prepared_notes", {
  id: integer("id").primaryKey(),
  doc: jsonb("doc").$type<{ tags: string[] } | null>(),
  at: timestamp("at", { withTimezone: true, mode: "date" }),
});
const setNote = prepareStatement((db) =>
  db
    .update(notes)
    .set({ doc: columnPlaceholder("doc", notes.doc), at: columnPlaceholder("at", notes.at) })
    .where(eq(notes.id, sql.placeholder("id")))
    .returning({ id: notes.id }),
);

let pgDb: TestDatabase | undefined;
const backends = [
  { name: "PGlite", open: async () => openDatabase({ schema, migrationsFolder }) },
  {
    name: "PostgreSQL",
    open: async () => {
      pgDb = await createTestDatabase("prepared");
      return openDatabase({ url: pgDb.url, schema, migrationsFolder, poolSize: 2 });
    },
  },
];

describe.each(backends)("prepareStatement on $name", (backend) => {
  let database: Database<typeof schema>;
  beforeAll(async () => {
    database = await backend.open();
  });
  afterAll(async () => {
    await database.close();
    await pgDb?.drop();
    pgDb = undefined;
  });

  it("runs one statement with new values each time and maps the rows as the builder does", async () => {
    expect(await insertCounter.execute(database.db, { name: "a", value: 1 })).toEqual([{ name: "a" }]);
    expect(await insertCounter.execute(database.db, { name: "b", value: 2 })).toEqual([{ name: "b" }]);
    expect(await insertCounter.execute(database.db, { name: "a", value: 9 })).toEqual([]);
    expect(await counterByName.execute(database.db, { name: "b" })).toEqual([{ name: "b", value: 2 }]);
    const updated = await addToCounter.execute(database.db, { name: "a", by: 5 });
    expect(updated.rows).toEqual([{ value: 6 }]);
  });

  it("encodes columnPlaceholder values as the column does, and writes null as SQL NULL", async () => {
    await database.db.execute(sql`create table if not exists prepared_notes (id integer primary key, doc jsonb, at timestamptz)`);
    await database.db.execute(sql`insert into prepared_notes (id) values (1)`);
    const at = new Date("2026-12-07T05:00:00.000Z");
    expect(await setNote.execute(database.db, { id: 1, doc: { tags: ["a"] }, at })).toEqual([{ id: 1 }]);
    expect(await database.db.select().from(notes)).toEqual([{ id: 1, doc: { tags: ["a"] }, at }]);
    await setNote.execute(database.db, { id: 1, doc: null, at: null });
    const stored = await database.db.execute(sql`select doc is null as doc_is_null, at is null as at_is_null from prepared_notes where id = 1`);
    expect(stored.rows).toEqual([{ doc_is_null: true, at_is_null: true }]);
  });

  it("runs inside the transaction it is given: its writes commit and roll back with it", async () => {
    await database.db.transaction(async (tx) => {
      await insertCounter.execute(tx, { name: "committed", value: 1 });
      await addToCounter.execute(tx, { name: "committed", by: 1 });
    });
    await expect(
      database.db.transaction(async (tx) => {
        await insertCounter.execute(tx, { name: "rolled-back", value: 1 });
        expect(await counterByName.execute(tx, { name: "rolled-back" })).toEqual([{ name: "rolled-back", value: 1 }]);
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    expect(await counterByName.execute(database.db, { name: "committed" })).toEqual([{ name: "committed", value: 2 }]);
    expect(await counterByName.execute(database.db, { name: "rolled-back" })).toEqual([]);
  });

  it("serves concurrent transactions, each on its own connection", async () => {
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        database.db.transaction(async (tx) => {
          await insertCounter.execute(tx, { name: `concurrent-${i}`, value: i });
          await addToCounter.execute(tx, { name: `concurrent-${i}`, by: 10 });
        }),
      ),
    );
    const rows = await database.db.execute<{ total: number }>(sql`select sum(value)::int as total from counters where name like 'concurrent-%'`);
    expect(rows.rows[0]?.total).toBe(15 + 60);
  });

  it("fails on a missing value before anything is sent", async () => {
    await expect(insertCounter.execute(database.db, { name: "no-value" })).rejects.toThrow('No value for placeholder "value"');
  });
});
