// `npm run serve -- inventory` as a user runs it on a fresh clone: the built entry point with
// no configuration but a free port, a private nats-server and a temp PGlite directory. It must
// log one line with its address, answer buf curl through reflection alone, stop cleanly on
// SIGTERM, and refuse a bad variable with a message naming it.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, requireBuild, startNatsServer, type NatsServer } from "../helpers/index.js";
import { startTimeoutMs, waitUntilConsuming } from "./rpc-helpers.js";

const root = resolve(import.meta.dirname, "../..");
const run = promisify(execFile);

/** Variables the services read: unset, so the process sees "no configuration". */
const serviceVariables = /^(HOST|PORT|TLS_.*|DATABASE_URL|DATA_DIR|NATS_URL|REDIS_URL|SHUTDOWN_GRACE_MS|LOG_LEVEL|INVENTORY_TARGET|CLIENT_.*|SAGA_.*|PAYMENT_.*)$/;

interface Served {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function serve(service: string, env: Record<string, string>): Served {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !serviceVariables.test(name)));
  const child = spawn(process.execPath, ["dist/services/serve.js", service], { cwd: root, env: { ...inherited, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) => child.once("exit", (code) => resolveExit(code)));
  return { child, output: () => output, exited };
}

async function waitForLine(served: Served, pattern: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = served.output().split("\n").find((l) => pattern.test(l));
    if (line !== undefined) return line;
    if (served.child.exitCode !== null || served.child.signalCode !== null) throw new Error(`exited before printing ${String(pattern)}:\n${served.output()}`);
    if (Date.now() > deadline) throw new Error(`no line matching ${String(pattern)} after ${timeoutMs} ms:\n${served.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves with the exit code, or fails if the process has not exited within `timeoutMs`. */
async function exitWithin(served: Served, timeoutMs: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running ${timeoutMs} ms after SIGTERM:\n${served.output()}`)), timeoutMs);
  });
  try {
    return await Promise.race([served.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function bufCurl(args: string[]): Promise<unknown> {
  const { stdout } = await run("npx", ["buf", "curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], { cwd: root, timeout: 60_000 });
  return JSON.parse(stdout) as unknown;
}

describe("npm run serve -- inventory", () => {
  let nats: NatsServer;
  let dataDir: string;
  const started: Served[] = [];

  beforeAll(async () => {
    requireBuild();
    nats = await startNatsServer();
    dataDir = await mkdtemp(join(tmpdir(), "protomesh-serve-"));
  }, 180_000);
  afterAll(async () => {
    for (const served of started) {
      if (served.child.exitCode === null && served.child.signalCode === null) {
        served.child.kill("SIGKILL");
        await served.exited;
      }
    }
    await nats?.dispose();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it("starts on PGlite with nothing configured, answers buf curl through reflection, and exits 0 on SIGTERM", async () => {
    const port = await freePort();
    const served = serve("inventory", { NATS_URL: nats.url, PORT: String(port), DATA_DIR: dataDir });
    started.push(served);

    const line = await waitForLine(served, /listening on/, startTimeoutMs - 30_000);
    const logged = JSON.parse(line) as { msg: string; address: string; database: string; tls: string };
    expect(logged).toMatchObject({ msg: `inventory listening on 127.0.0.1:${port}`, address: `127.0.0.1:${port}`, database: "pglite", tls: "off" });
    expect(served.output().split("\n").filter((l) => l.includes("listening on"))).toHaveLength(1);

    const url = `http://127.0.0.1:${port}`;
    expect(await bufCurl([`${url}/grpc.health.v1.Health/Check`])).toEqual({ status: "SERVING" });
    const set = await bufCurl([
      "-d",
      JSON.stringify({ sku: "SERVE-1", name: "Served", available: 4, unitPrice: { currencyCode: "EUR", amountMinor: "1250" } }),
      `${url}/shop.inventory.v1.InventoryService/SetStock`,
    ]);
    expect(set).toMatchObject({ item: { sku: "SERVE-1", name: "Served", available: 4, unitPrice: { currencyCode: "EUR", amountMinor: "1250" } } });

    await waitUntilConsuming(nats.url, "inventory");
    served.child.kill("SIGTERM");
    expect(await exitWithin(served, 20_000)).toBe(0);
    expect(served.output()).toContain("inventory stopped");
  }, startTimeoutMs);

  it("refuses a bad variable: exit code 1 and one line naming it, without a stack trace", async () => {
    const served = serve("inventory", { NATS_URL: nats.url, PORT: "http", DATA_DIR: dataDir });
    started.push(served);
    expect(await exitWithin(served, 30_000)).toBe(1);
    const output = served.output();
    expect(output.trim()).toBe('invalid configuration: PORT: must be a port number (got "http")');
    expect(output).not.toMatch(/^\s+at /m);
    expect(output).not.toContain("listening on");
  });
});
