// Runs the README's main job, `npm run demo`, as a user would: short runs on embedded PGlite
// with nothing configured (also while its replicas are killed), and a run with replicas on
// PostgreSQL and Redis while replicas are killed. NATS comes from NATS_URL when set.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import pg from "pg";
import { dropDatabase } from "@protomesh/data";
import { processesMarkedBy, requireBuild, SHARED_POSTGRES_URL, spawnMarkedRun, startNatsServer, stopMarkedRuns } from "../helpers/index.js";

const SHARED_REDIS_URL = process.env.PROTOMESH_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

// A demo still running when its test fails (a timeout) must not outlive it: its replicas would
// compete for the same durable consumers as the next run's.
afterEach(stopMarkedRuns);

/** Runs the demo marked, so its leftovers are found by the mark, never another test's replicas. */
async function demo(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string; mark: string }> {
  // "Nothing configured" means no database and no cache, whatever the test runner's environment says.
  const { DATABASE_URL: _database, REDIS_URL: _redis, ...inherited } = process.env;
  const run = spawnMarkedRun("demo", "dist/demo/main.js", args, { ...inherited, ...env });
  const code = await run.exited;
  return { code, output: run.output(), mark: run.mark };
}

describe("npm run demo", () => {
  beforeAll(async () => {
    requireBuild();
  });

  it("runs on embedded PGlite with nothing configured: every order terminal, no invariant broken", async () => {
    const { code, output, mark } = await demo(["--orders", "12", "--concurrency", "4"], {});
    expect(output).toContain("database: pglite");
    expect(output).toContain("cache: off (no REDIS_URL)");
    // No process was lost, so the replicas' counters are complete.
    expect(output).toMatch(/deduplication +\d+ publishes for \d+ events \(\d+ repeated, deduplicated by event id\), \d+ redeliveries/);
    expect(output).toContain("result: every order terminal, no invariant broken");
    expect(code).toBe(0);
    expect(await processesMarkedBy([mark])).toEqual([]);
  }, 600_000);

  it("runs on embedded PGlite while killing its only replicas: every order terminal, no invariant broken", async () => {
    // Its own nats-server: the chaos run's streams and consumers stay out of the shared one.
    const nats = await startNatsServer();
    try {
      // One caller placing 60 orders (over 100 ms each on an idle machine) outlasts the chaos
      // schedule's first kill, 2-4 s after the orders start.
      const { code, output, mark } = await demo(["--orders", "60", "--concurrency", "1", "--chaos"], { NATS_URL: nats.url });
      console.info(output.split("\n").filter((line) => /^ (latency|chaos|retries) /.test(line)).join("\n"));
      expect(output).toContain("1 replica(s) per service, pglite");
      // The chaos schedule is seeded: its first victim is orders-0, the driver's only orders replica.
      expect(output).toMatch(/chaos +\d+ replicas killed \(kill -9\) and restarted: orders-0/);
      expect(output).toMatch(/orders +\d+ confirmed, \d+ cancelled, 0 pending \(stored: 60\)/);
      expect(output).toContain("result: every order terminal, no invariant broken");
      expect(code).toBe(0);
      expect(await processesMarkedBy([mark])).toEqual([]);
    } finally {
      await nats.dispose();
    }
  }, 300_000);

  it("runs two replicas per service on PostgreSQL while killing replicas, and loses nothing", async () => {
    const { code, output, mark } = await demo(["--orders", "120", "--chaos", "--replicas", "2"], { DATABASE_URL: SHARED_POSTGRES_URL, REDIS_URL: SHARED_REDIS_URL });
    expect(output).toContain("2 replica(s) per service, postgres");
    expect(output).toContain("cache: redis");
    expect(output).toMatch(/chaos +\d+ replicas killed/);
    expect(output).toMatch(/deduplication +\d+ publishes, \d+ redeliveries .*, from the \d+ replicas alive at the end; the \d+ killed processes took their counts with them/);
    expect(output).toContain("result: every order terminal, no invariant broken");
    expect(code).toBe(0);
    expect(await processesMarkedBy([mark])).toEqual([]);
  }, 300_000);

  it("stops with one clear line and a non-zero code when NATS cannot be reached", async () => {
    const { code, output } = await demo(["--orders", "1"], { NATS_URL: "nats://127.0.0.1:1" });
    expect(output.trim()).toBe("NATS_URL is nats://127.0.0.1:1, but nothing answers there; start that server or unset NATS_URL");
    expect(code).toBe(1);
  }, 60_000);

  it("keeps its databases when the run fails, saying where they are and how to drop them", async () => {
    // The fault: every replica refuses its configuration, so the run fails right after the
    // databases are made. A private nats-server keeps the run off the shared one.
    const nats = await startNatsServer();
    const kept: string[] = [];
    try {
      const { code, output } = await demo(["--orders", "1"], { NATS_URL: nats.url, DATABASE_URL: SHARED_POSTGRES_URL, CONNECT_TIMEOUT_MS: "1" });
      expect(code).toBe(1);
      expect(output).toMatch(/demo failed: inventory-0 exited during start-up \(1\)/);
      const names = /the databases are kept on the DATABASE_URL server: (.+)/.exec(output)?.[1]?.split(", ") ?? [];
      kept.push(...names);
      expect(names).toHaveLength(3);
      expect(output).toContain(`drop:  psql "$DATABASE_URL" ${names.map((name) => `-c 'DROP DATABASE ${name}'`).join(" ")}`);
      const client = new pg.Client({ connectionString: SHARED_POSTGRES_URL });
      await client.connect();
      try {
        const { rows } = await client.query<{ datname: string }>("select datname from pg_database where datname = any($1) order by datname", [names]);
        expect(rows.map((row) => row.datname)).toEqual([...names].sort());
      } finally {
        await client.end();
      }

      const pglite = await demo(["--orders", "1"], { NATS_URL: nats.url, CONNECT_TIMEOUT_MS: "1" });
      expect(pglite.code).toBe(1);
      const root = /the databases are kept in (\S+) \(orders, inventory, payments\)/.exec(pglite.output)?.[1] ?? "";
      expect(pglite.output).toContain(`drop:  rm -rf ${root}`);
      expect(existsSync(root)).toBe(true);
      await rm(root, { recursive: true, force: true });
    } finally {
      for (const name of kept) await dropDatabase(SHARED_POSTGRES_URL, name);
      await nats.dispose();
    }
  }, 120_000);
});
