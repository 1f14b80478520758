// Runs `npm run rehearsal` compiled, as a user would after the build: a short run must end with
// the invariant checker's report (every order terminal, no invariant broken, streams at R3),
// and neither a finished nor an interrupted run may leave a process, a NATS store or a
// database behind.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { requireBuild, SHARED_POSTGRES_URL } from "../helpers/index.js";

const root = resolve(import.meta.dirname, "../..");

// A rehearsal still running when its test fails (a timeout) must not outlive it.
const running = new Set<ChildProcess>();
afterEach(async () => {
  for (const child of running) {
    const exited = new Promise((resolvePromise) => child.once("exit", resolvePromise));
    child.kill("SIGTERM");
    await exited;
  }
});

interface Run {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function rehearsal(args: string[]): Run {
  const { REDIS_URL: _redis, ...inherited } = process.env;
  // Four connections per replica, as in the other tests that share the PostgreSQL server.
  const env = { ...inherited, DATABASE_URL: SHARED_POSTGRES_URL, DATABASE_POOL_SIZE: "4" };
  const child = spawn(process.execPath, ["dist/scripts/rehearsal.js", ...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolvePromise) =>
    child.once("exit", (code) => {
      running.delete(child);
      resolvePromise(code);
    }),
  );
  return { child, output: () => output, exited };
}

/** The NATS store directories and the databases the run announced. */
function announced(output: string): { storeDirs: string[]; databases: string[] } {
  const storeDirs = /stores under (.+)$/m.exec(output)?.[1]?.split(", ") ?? [];
  const databases = /rehearsal: databases (.+) on /m.exec(output)?.[1]?.split(", ") ?? [];
  return { storeDirs, databases };
}

/** Processes whose command line or environment names one of `marks`: the run's nats-servers (their store) and replicas (their DATABASE_URL). */
async function processesMarkedBy(marks: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir("/proc")).filter((entry) => /^\d+$/.test(entry))) {
    const [commandLine, environment] = await Promise.all(
      ["cmdline", "environ"].map((file) => readFile(`/proc/${pid}/${file}`, "utf8").catch(() => "")),
    );
    if (marks.some((mark) => commandLine?.includes(mark) || environment?.includes(mark))) found.push(`${pid}: ${commandLine?.replaceAll("\0", " ")}`);
  }
  return found;
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

async function expectNothingLeft(output: string): Promise<void> {
  const { storeDirs, databases } = announced(output);
  expect(storeDirs).toHaveLength(3);
  expect(databases).toHaveLength(3);
  expect(await processesMarkedBy([...storeDirs, ...databases])).toEqual([]);
  expect(storeDirs.filter((dir) => existsSync(dir))).toEqual([]);
  expect(await existingDatabases(databases)).toEqual([]);
}

describe("npm run rehearsal", () => {
  beforeAll(() => {
    requireBuild();
  });

  it("runs a three-node NATS cluster and two replicas per service, ends with every order terminal and no invariant broken, and leaves nothing behind", async () => {
    const run = rehearsal(["--orders", "30", "--concurrency", "8"]);
    const code = await run.exited;
    const output = run.output();
    expect(output).toContain("2 replica(s) per service, postgres");
    expect(output).toMatch(/orders +\d+ confirmed, \d+ cancelled, 0 pending \(stored: 30\)/);
    expect(output).toContain("result: every order terminal, no invariant broken");
    expect(output).toContain("3-node NATS cluster, streams SHOP_ORDERS R3, SHOP_INVENTORY R3, SHOP_PAYMENTS R3");
    expect(output).toContain("rehearsal passed");
    expect(code).toBe(0);
    await expectNothingLeft(output);
  }, 180_000);

  it("stops its replicas and cluster and drops its databases on Ctrl-C", async () => {
    const run = rehearsal(["--orders", "300", "--concurrency", "4"]);
    const deadline = Date.now() + 120_000;
    while (!run.output().includes("clients connected") && Date.now() < deadline && run.child.exitCode === null) await sleep(200);
    expect(run.output()).toContain("clients connected");
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(130);
    expect(run.output()).not.toContain("rehearsal passed");
    await expectNothingLeft(run.output());
  }, 180_000);
});
