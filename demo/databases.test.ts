import { existsSync } from "node:fs";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { SHARED_POSTGRES_URL } from "../test/helpers/index.js";
import { prepareDatabases } from "./databases.js";

async function databasesNamed(prefix: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: SHARED_POSTGRES_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>("select datname from pg_database where datname like $1 order by datname", [`${prefix}%`]);
    return rows.map((row) => row.datname);
  } finally {
    await client.end();
  }
}

describe("the demo's databases", () => {
  it("on PGlite: say where their directory is, how to look at it and how to remove it; dispose removes it", async () => {
    const databases = await prepareDatabases(undefined);
    const root = databases.envFor("orders").DATA_DIR?.replace(/\/orders$/, "") ?? "";
    expect(databases.whereKept()).toEqual([
      `the databases are kept in ${root} (orders, inventory, payments)`,
      `  look:  DATA_DIR=${root} npm run ops -- saga <order-id>`,
      `  drop:  rm -rf ${root}`,
    ]);
    expect(existsSync(root)).toBe(true);
    await databases.dispose();
    expect(existsSync(root)).toBe(false);
  });

  it("on PostgreSQL: name each database, how to look at it and how to drop it; dispose drops them", async () => {
    const databases = await prepareDatabases(SHARED_POSTGRES_URL, ["inventory-0", "inventory-1"]);
    const names = databases.names.map((name) => new URL(databases.envFor(name).DATABASE_URL ?? "").pathname.slice(1));
    const run = names[0]?.split("_").at(-1) ?? "";
    try {
      expect(await databasesNamed(`protomesh_demo_`).then((all) => all.filter((name) => name.endsWith(`_${run}`)))).toEqual([...names].sort());
      const [where, look, drop] = databases.whereKept();
      expect(where).toBe(`the databases are kept on the DATABASE_URL server: ${names.join(", ")}`);
      expect(look).toContain(`INVENTORY_1_DATABASE_URL=${databases.envFor("inventory-1").DATABASE_URL} `);
      expect(look).toMatch(/ npm run ops -- saga <order-id>$/);
      expect(drop).toBe(`  drop:  psql "$DATABASE_URL" ${names.map((name) => `-c 'DROP DATABASE ${name}'`).join(" ")}`);
    } finally {
      await databases.dispose();
    }
    expect((await databasesNamed(`protomesh_demo_`)).filter((name) => name.endsWith(`_${run}`))).toEqual([]);
  });
});
