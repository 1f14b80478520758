// Runs the README's main job, `npm run demo`, as a user would: short runs on embedded PGlite
// with nothing configured (also while its replicas are killed), and a run with replicas on
// PostgreSQL and Redis while replicas are killed. NATS comes from NATS_URL when set.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
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
});
