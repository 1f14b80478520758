// A start that fails leaves nothing open in the process: the host closes what it opened (the
// database pool, NATS and the bus, the shared Redis, and the app once it exists), whether Nest
// could not create the app or a later step failed (the port taken). In process, on a throwaway
// database, counting the process's own sockets and the database's sessions of the service.
import "reflect-metadata";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { type DynamicModule, Module } from "@nestjs/common";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runService } from "../../services/host/run-service.js";
import { loadInventoryConfig } from "../../services/inventory/config.js";
import { inventoryService } from "../../services/inventory/service.js";
import { createTestDatabase, freePort, startNatsServer, type NatsServer, type TestDatabase } from "../helpers/index.js";
import { startTimeoutMs } from "./rpc-helpers.js";

const postgresPort = 5432;
const redisUrl = "redis://127.0.0.1:6379";
const redisPort = 6379;

/** How many TCP sockets this process holds open to `port` (Linux: its descriptors against /proc/net/tcp and tcp6). */
function socketsTo(port: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const socket = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (socket?.[1] !== undefined) inodes.add(socket[1]);
    } catch {
      // Closed while listed (readdir's own descriptor, for one).
    }
  }
  let count = 0;
  for (const table of ["/proc/self/net/tcp", "/proc/self/net/tcp6"]) {
    for (const row of readFileSync(table, "utf8").trim().split("\n").slice(1)) {
      const fields = row.trim().split(/\s+/);
      const remotePort = Number.parseInt(fields[2]?.split(":")[1] ?? "", 16);
      if (remotePort === port && inodes.has(fields[9] ?? "")) count++;
    }
  }
  return count;
}

/** Sessions of `applicationName` on database `name`, as the server sees them. */
async function sessionsOf(name: string, applicationName: string): Promise<number> {
  const client = new pg.Client({ connectionString: process.env.PROTOMESH_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" });
  await client.connect();
  try {
    const result = await client.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where datname = $1 and application_name = $2", [name, applicationName]);
    return result.rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}

/** Closing a socket completes on the next turns of the event loop and on the server; allow it a moment. */
async function settled<T>(read: () => T | Promise<T>, expected: T, withinMs = 3_000): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await read();
    if (value === expected || Date.now() > deadline) return value;
    await sleep(50);
  }
}

describe("a start that fails", () => {
  let nats: NatsServer;
  let database: TestDatabase;
  let taken: Server;
  let takenPort: number;

  beforeAll(async () => {
    nats = await startNatsServer();
    database = await createTestDatabase("failed_start");
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    takenPort = (taken.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => taken?.close(resolve));
    await database?.drop();
    await nats?.dispose();
  });

  const environment = (port: number) => ({ LOG_LEVEL: "silent", HOST: "127.0.0.1", PORT: String(port), DATABASE_URL: database.url, NATS_URL: nats.url, REDIS_URL: redisUrl });

  /** The process's sockets to PostgreSQL, Redis and NATS. */
  const sockets = () => ({ postgres: socketsTo(postgresPort), redis: socketsTo(redisPort), nats: socketsTo(nats.port) });

  it(
    "on a port already taken, after the app was created: rejects with listen's error and closes the app, Redis, NATS and the database pool",
    async () => {
      const before = sockets();
      await expect(runService(inventoryService(loadInventoryConfig(environment(takenPort))))).rejects.toThrow(/EADDRINUSE/);
      // The start got as far as the database: its migrations were applied.
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      const migrated = await client.query("select 1 from drizzle.__drizzle_migrations").finally(() => client.end());
      expect(migrated.rowCount).toBeGreaterThan(0);

      expect(await settled(() => sessionsOf(database.name, "inventory"), 0)).toBe(0);
      expect(await settled(() => JSON.stringify(sockets()), JSON.stringify(before))).toBe(JSON.stringify(before));
    },
    startTimeoutMs,
  );

  it(
    "while Nest creates the app: rejects with the provider's error and closes the database pool, Redis and NATS",
    async () => {
      const before = sockets();
      const definition = inventoryService(loadInventoryConfig(environment(await freePort())));
      @Module({})
      class FailingProviderModule {}
      const failing: DynamicModule = {
        module: FailingProviderModule,
        imports: [definition.module],
        providers: [
          {
            provide: "a provider that cannot start",
            useFactory: () => {
              throw new Error("the provider cannot start");
            },
          },
        ],
      };
      await expect(runService({ ...definition, module: failing })).rejects.toThrow("the provider cannot start");

      expect(await settled(() => sessionsOf(database.name, "inventory"), 0)).toBe(0);
      expect(await settled(() => JSON.stringify(sockets()), JSON.stringify(before))).toBe(JSON.stringify(before));
    },
    startTimeoutMs,
  );
});
