// Start-up migrations, as the host applies them: a fresh database gets every table of the
// service's schema, and starting again on a migrated database applies nothing. PGlite keeps
// its data in a directory here (restart on it); PostgreSQL gets two replicas starting at once.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getTableName, isTable, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InventoryService } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import type { Db } from "@protomesh/data";
import type { RunningService } from "../../services/host/run-service.js";
import * as inventorySchema from "../../services/inventory/schema.js";
import * as ordersSchema from "../../services/orders/schema.js";
import * as paymentsSchema from "../../services/payments/schema.js";
import { createTestDatabase, startNatsServer, type NatsServer, type TestDatabase } from "../helpers/index.js";
import { databaseOf, grpcClient, startService, startTimeoutMs, cleanUp, type ServiceName } from "./rpc-helpers.js";

const schemas: Record<ServiceName, Record<string, unknown>> = { orders: ordersSchema, inventory: inventorySchema, payments: paymentsSchema };
const expectedTables = (service: ServiceName) =>
  Object.values(schemas[service])
    .filter(isTable)
    .map((table) => getTableName(table))
    .sort();

async function journalLength(service: ServiceName): Promise<number> {
  const journal = JSON.parse(await readFile(new URL(`../../services/${service}/migrations/meta/_journal.json`, import.meta.url), "utf8")) as { entries: unknown[] };
  return journal.entries.length;
}

/** The public tables and drizzle's migration rows (schema "drizzle", table "__drizzle_migrations"). */
async function inspect(db: Db): Promise<{ tables: string[]; migrations: string[] }> {
  const tables = await db.execute<{ table_name: string }>(
    sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`,
  );
  const migrations = await db.execute<{ hash: string }>(sql`select hash from drizzle.__drizzle_migrations order by id`);
  return { tables: tables.rows.map((r) => r.table_name), migrations: migrations.rows.map((r) => r.hash) };
}

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats.dispose();
});

describe("start-up migrations on PostgreSQL", () => {
  const databases: TestDatabase[] = [];
  afterAll(() => cleanUp(databases.map((d) => () => d.drop())));

  it.each(["orders", "inventory", "payments"] as const)("%s: a fresh database gets the current schema; two replicas starting at once migrate it once", async (service) => {
    const database = await createTestDatabase(`migrate_${service}`);
    databases.push(database);
    const env = { DATABASE_URL: database.url, NATS_URL: nats.url, INVENTORY_TARGET: "127.0.0.1:1" };
    const replicas = await Promise.allSettled([startService(service, env), startService(service, env)]);
    const started = replicas.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    try {
      expect(replicas.map((r) => r.status)).toEqual(["fulfilled", "fulfilled"]);
      const { tables, migrations } = await inspect(databaseOf(started[0] as RunningService));
      expect(tables).toEqual(expectedTables(service));
      expect(migrations).toHaveLength(await journalLength(service));
      expect(new Set(migrations).size).toBe(migrations.length);
    } finally {
      await cleanUp(started.map((r) => () => r.stop()));
    }
  });
});

describe("start-up migrations on PGlite in a directory", () => {
  let dataDir: string;
  let running: RunningService | undefined;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "protomesh-migrate-"));
  });
  afterAll(async () => {
    await running?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("migrates a fresh directory, and a restart on it applies nothing and keeps the data", async () => {
    const env = { DATA_DIR: dataDir, NATS_URL: nats.url };
    running = await startService("inventory", env);
    await grpcClient(InventoryService, running).setStock({ sku: "KEEP-1", name: "Kept", available: 3, unitPrice: { currencyCode: "EUR", amountMinor: 100n } });
    const first = await inspect(databaseOf(running));
    expect(first.tables).toEqual(expectedTables("inventory"));
    expect(first.migrations).toHaveLength(await journalLength("inventory"));
    await running.stop();
    running = undefined;

    running = await startService("inventory", env);
    expect((await grpcClient(InventoryService, running).getStock({ sku: "KEEP-1" })).item?.available).toBe(3);
    expect(await inspect(databaseOf(running))).toEqual(first);
  }, 2 * startTimeoutMs);
});
