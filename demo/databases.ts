// The demo's databases: one per service, and with sharded inventory one per shard in place of
// inventory's. With DATABASE_URL (a PostgreSQL server) each gets a fresh database on it and may
// run several replicas; without it each keeps an embedded PGlite directory, which only one process
// can open, so it runs one replica. A run that fails keeps them to be looked at.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { redactedUrl } from "../services/config/index.js";
import { createDatabase, dropDatabase, openDatabase, type Database } from "@protomesh/data";

export interface DemoDatabases {
  kind: "postgres" | "pglite";
  /** Inventory's shards, each with a database named after it; undefined: one "inventory" database. */
  inventoryShards: readonly string[] | undefined;
  /** Every database by the name `envFor` and `open` take: orders, payments and inventory's. */
  names: readonly string[];
  /** Environment for a replica using database `name`: DATABASE_URL or DATA_DIR. */
  envFor(name: string): Record<string, string>;
  /** Opens a database in this process (PGlite: only once its replicas have stopped). */
  open(name: string): Promise<Database>;
  /** Lines saying where the databases are and how to look at and remove them, for a run that keeps them. */
  whereKept(): string[];
  dispose(): Promise<void>;
}

/** `inventoryShards`: one inventory database per shard (ADR 0105) instead of one for inventory. */
export async function prepareDatabases(serverUrl: string | undefined, inventoryShards?: readonly string[]): Promise<DemoDatabases> {
  const all: readonly string[] = ["orders", ...(inventoryShards ?? ["inventory"]), "payments"];
  if (serverUrl !== undefined && serverUrl !== "") {
    const run = randomBytes(3).toString("hex");
    const names = new Map(all.map((database) => [database, `protomesh_demo_${database.replace(/-/g, "_")}_${run}`]));
    const urls = new Map<string, string>();
    for (const [database, name] of names) urls.set(database, await createDatabase(serverUrl, name));
    return {
      kind: "postgres",
      inventoryShards,
      names: all,
      envFor: (database) => ({ DATABASE_URL: urls.get(database) ?? "" }),
      open: (database) => openDatabase({ url: urls.get(database) ?? "" }),
      whereKept: () => [
        `the databases are kept on the DATABASE_URL server: ${[...names.values()].join(", ")}`,
        `  look:  ${[...urls].map(([database, url]) => `${database.toUpperCase().replace(/-/g, "_")}_DATABASE_URL=${redactedUrl(url)}`).join(" ")} npm run ops -- saga <order-id>`,
        `  drop:  psql "$DATABASE_URL" ${[...names.values()].map((name) => `-c 'DROP DATABASE ${name}'`).join(" ")}`,
      ],
      dispose: async () => {
        for (const name of names.values()) await dropDatabase(serverUrl, name);
      },
    };
  }
  const root = await mkdtemp(join(tmpdir(), "protomesh-demo-data-"));
  return {
    kind: "pglite",
    inventoryShards,
    names: all,
    envFor: (database) => ({ DATA_DIR: join(root, database) }),
    open: (database) => openDatabase({ dataDir: join(root, database) }),
    whereKept: () => [
      `the databases are kept in ${root} (${all.join(", ")})`,
      `  look:  DATA_DIR=${root} npm run ops -- saga <order-id>`,
      `  drop:  rm -rf ${root}`,
    ],
    dispose: () => rm(root, { recursive: true, force: true }),
  };
}
