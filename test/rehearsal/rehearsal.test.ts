// Runs `npm run rehearsal` compiled, as a user would after the build: a short run must end with
// the invariant checker's report (every order terminal, no invariant broken, streams at R3),
// and neither a finished run, nor one whose replicas fail to start, nor one interrupted while
// they start or while orders run may leave a process, a NATS store or a database behind.
import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { processesMarkedBy, requireBuild, SHARED_POSTGRES_URL, spawnMarkedRun, stopMarkedRuns, type MarkedRun } from "../helpers/index.js";

// A rehearsal still running when its test fails (a timeout) must not outlive it.
afterEach(stopMarkedRuns);

function rehearsal(args: string[], env: Record<string, string> = {}): MarkedRun {
  const { REDIS_URL: _redis, ...inherited } = process.env;
  // Four connections per replica, as in the other tests that share the PostgreSQL server.
  return spawnMarkedRun("rehearsal", "dist/scripts/rehearsal.js", args, { ...inherited, DATABASE_URL: SHARED_POSTGRES_URL, DATABASE_POOL_SIZE: "4", ...env });
}

/** The NATS store directories and the databases the run announced. */
function announced(output: string): { storeDirs: string[]; databases: string[] } {
  const storeDirs = /stores under (.+)$/m.exec(output)?.[1]?.split(", ") ?? [];
  const databases = /rehearsal: databases (.+) on /m.exec(output)?.[1]?.split(", ") ?? [];
  return { storeDirs, databases };
}

async function existingDatabases(names: string[]): Promise<string[]> {
  const client = new pg.Client({ connectionString: SHARED_POSTGRES_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>("select datname from pg_database where datname = any($1)", [names]);
    return rows.map((row) => row.datname);
  } finally {
    await client.end();
  }
}

/** Checked once the rehearsal has exited: its own processes only (by mark, stores and databases), so a test running beside it cannot count. */
async function expectNothingLeft(run: MarkedRun): Promise<void> {
  const { storeDirs, databases } = announced(run.output());
  expect(storeDirs).toHaveLength(3);
  // orders, payments and one per inventory shard.
  expect(databases).toHaveLength(4);
  expect(await processesMarkedBy([run.mark, ...storeDirs, ...databases])).toEqual([]);
  expect(storeDirs.filter((dir) => existsSync(dir))).toEqual([]);
  expect(await existingDatabases(databases)).toEqual([]);
}

async function outputContains(run: MarkedRun, text: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!run.output().includes(text) && Date.now() < deadline && run.child.exitCode === null) await sleep(100);
  return run.output().includes(text);
}

describe("npm run rehearsal", () => {
  beforeAll(() => {
    requireBuild();
  });

  it("runs a three-node NATS cluster, inventory sharded over two databases and two replicas per service and shard, ends with every order terminal and no invariant broken, and leaves nothing behind", async () => {
    const started = Date.now();
    const run = rehearsal(["--orders", "30", "--concurrency", "8"]);
    const code = await run.exited;
    const output = run.output();
    console.info(`rehearsal of 30 orders: ${Date.now() - started} ms`);
    expect(output).toContain("2 replica(s) per service, postgres");
    expect(output).toMatch(/orders +\d+ confirmed, \d+ cancelled, 0 pending \(stored: 30\)/);
    expect(output).toContain("result: every order terminal, no invariant broken");
    expect(output).toContain("3-node NATS cluster, streams SHOP_ORDERS R3, SHOP_INVENTORY R3, SHOP_PAYMENTS R3");
    expect(output).toContain("inventory sharded over inventory-0 and inventory-1");
    for (const replica of ["inventory-0-0", "inventory-0-1", "inventory-1-0", "inventory-1-1"]) expect(output).toContain(`${replica} on :`);
    const { databases } = announced(output);
    expect(databases.filter((name) => /^protomesh_demo_inventory_[01]_/.test(name))).toHaveLength(2);
    expect(output).toContain("rehearsal passed");
    expect(code).toBe(0);
    await expectNothingLeft(run);
  }, 300_000);

  it("stops the replicas already running, the cluster and the databases when a service's replica fails to start", async () => {
    // Every replica inherits the rehearsal's environment; only payments reads this variable and
    // refuses the value, after every inventory shard's replicas are up.
    const run = rehearsal(["--orders", "10"], { PAYMENT_LATENCY_MS: "-1" });
    const code = await run.exited;
    const output = run.output();
    expect(output).toContain("inventory-1-1 on :");
    expect(output).toMatch(/rehearsal failed: payments-0 exited during start-up[^]*PAYMENT_LATENCY_MS: must not be negative/);
    expect(output).not.toContain("orders-0 on :");
    expect(code).toBe(1);
    await expectNothingLeft(run);
  }, 300_000);

  it.each([
    // inventory-0-1 is being started once inventory-0-0 listens.
    ["SIGTERM", "during start-up, with a replica starting", "inventory-0-0 on :"],
    ["SIGINT", "(Ctrl-C) while orders run", "clients connected"],
  ] as const)("stops its replicas and cluster and drops its databases on %s %s", async (signal, _when, after) => {
    const run = rehearsal(["--orders", "300", "--concurrency", "4"]);
    expect(await outputContains(run, after, 240_000)).toBe(true);
    run.child.kill(signal);
    expect(await run.exited).toBe(130);
    expect(run.output()).not.toContain("rehearsal passed");
    await expectNothingLeft(run);
  }, 300_000);
});
