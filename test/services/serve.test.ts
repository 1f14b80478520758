// `npm run serve -- inventory` as a user runs it on a fresh clone: the built entry point with
// no configuration but a free port, a private nats-server and a temp PGlite directory. It must
// log one line with its address, answer buf curl through reflection alone, stop cleanly on
// SIGTERM, and refuse a bad variable with a message naming it; a dependency it cannot reach,
// a file that is not what its variable says, or a URL that is no URL stops it within a bound
// with one line naming the dependency or the variable.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createTestDatabase,
  freePort,
  requireBuild,
  startNatsServer,
  startPostgresServer,
  startRedisServer,
  type NatsServer,
  type TestDatabase,
} from "../helpers/index.js";
import { createCertificateAuthority } from "@protomesh/server/pki";
import { startTimeoutMs, waitUntilConsuming } from "./rpc-helpers.js";

const root = resolve(import.meta.dirname, "../..");
const run = promisify(execFile);

/** Variables the services read: unset, so the process sees "no configuration". */
const serviceVariables = /^(HOST|PORT|TLS_.*|DATABASE_URL|DATA_DIR|NATS_URL|REDIS_URL|EVENT_BUS|EVENT_REDIS_URL|CONNECT_TIMEOUT_MS|SHUTDOWN_GRACE_MS|LOG_LEVEL|INVENTORY_TARGET|CLIENT_.*|SAGA_.*|PAYMENT_.*)$/;

interface Served {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function serve(service: string, env: Record<string, string>, nodeOptions: string[] = []): Served {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !serviceVariables.test(name)));
  const child = spawn(process.execPath, [...nodeOptions, "dist/services/serve.js", service], { cwd: root, env: { ...inherited, ...env }, stdio: ["ignore", "pipe", "pipe"] });
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
    timer = setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms:\n${served.output()}`)), timeoutMs);
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

describe("npm run serve -- <service> when built", () => {
  beforeAll(() => requireBuild());

  // The build bundles each service into one file beside its main.js (ADR 0152): a start then reads
  // that file instead of the workspace's modules. Every ES module the loader loads is recorded.
  it.each(["orders", "inventory", "payments"])("%s starts from the bundle the build made, loading no other module of this repository", async (service) => {
    const dir = await mkdtemp(join(tmpdir(), "protomesh-serve-modules-"));
    try {
      const hooks = join(dir, "hooks.mjs");
      const loaded = join(dir, "loaded.txt");
      await writeFile(
        hooks,
        `import { appendFileSync } from "node:fs";\nexport function load(url, context, next) { appendFileSync(${JSON.stringify(loaded)}, url + "\\n"); return next(url, context); }\n`,
      );
      await writeFile(join(dir, "register.mjs"), `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
      const served = serve(service, { PORT: "http" }, ["--import", pathToFileURL(join(dir, "register.mjs")).href]);
      expect(await exitWithin(served, 30_000)).toBe(1);
      // The bundle's code ran: the configuration it reads refused the port.
      expect(served.output().trim()).toBe('invalid configuration: PORT: must be a port number (got "http")');
      const fromRepository = (await readFile(loaded, "utf8"))
        .split("\n")
        .filter((url) => url.startsWith(pathToFileURL(root).href) && !url.includes("/node_modules/"))
        .map((url) => relative(root, fileURLToPath(url)));
      expect(fromRepository).toEqual(["dist/services/serve.js", `dist/services/${service}/main.bundle.js`]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("npm run serve -- inventory: start-up failures", () => {
  /** The default CONNECT_TIMEOUT_MS, which the lines quote. */
  const connectTimeoutMs = 5_000;
  /** Room for loading the program and migrating PostgreSQL on a busy machine, plus the connect timeout. */
  const exitBoundMs = 20_000;
  let database: TestDatabase;
  let dir: string;
  const started: Served[] = [];

  beforeAll(async () => {
    requireBuild();
    database = await createTestDatabase("serve_failures");
    dir = await mkdtemp(join(tmpdir(), "protomesh-serve-failures-"));
    const ca = await createCertificateAuthority();
    const leaf = await ca.issue({ commonName: "inventory" });
    await writeFile(join(dir, "tls.crt"), leaf.cert);
    await writeFile(join(dir, "tls.key"), leaf.key);
    await writeFile(join(dir, "garbage.pem"), "this is not a certificate\n");
    await writeFile(join(dir, "a-file"), "");
  });
  afterAll(async () => {
    for (const served of started) {
      if (served.child.exitCode === null && served.child.signalCode === null) {
        served.child.kill("SIGKILL");
        await served.exited;
      }
    }
    await database?.drop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** Starts inventory on the test database unless `env` says otherwise; resolves with its one line once it exited 1 within `boundMs`. */
  async function failure(env: Record<string, string>, boundMs = exitBoundMs): Promise<string> {
    const began = Date.now();
    const served = serve("inventory", { DATABASE_URL: database.url, PORT: String(await freePort()), ...env });
    started.push(served);
    expect(await exitWithin(served, boundMs)).toBe(1);
    const lines = served.output().trim().split("\n");
    console.info(`${Date.now() - began} ms: ${lines.join(" / ")}`);
    expect(lines).toHaveLength(1);
    expect(served.output()).not.toMatch(/^\s+at /m);
    return lines[0] ?? "";
  }

  it("refuses a NATS_URL that is no URL at parse time, naming it", async () => {
    expect(await failure({ NATS_URL: "foo bar" })).toBe(
      'invalid configuration: NATS_URL: each entry must be nats://host:port or tls://host:port (or host:port); "foo bar" is not (got "foo bar")',
    );
  });

  it("names NATS and NATS_URL when nothing listens there", async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    expect(await failure({ NATS_URL: url })).toBe(`NATS at NATS_URL=${url} refused the connection`);
  });

  it("names NATS and NATS_URL when it hangs, after CONNECT_TIMEOUT_MS", async () => {
    const nats = await startNatsServer();
    nats.pause();
    try {
      expect(await failure({ NATS_URL: nats.url })).toBe(`NATS at NATS_URL=${nats.url} did not answer within ${connectTimeoutMs / 1000} s`);
    } finally {
      await nats.dispose();
    }
  });

  it("names PostgreSQL and DATABASE_URL, without its password, when nothing listens there", async () => {
    const port = await freePort();
    expect(await failure({ DATABASE_URL: `postgres://postgres:s3cret@127.0.0.1:${port}/inventory` })).toBe(
      `PostgreSQL at DATABASE_URL=postgres://postgres:***@127.0.0.1:${port}/inventory refused the connection`,
    );
  });

  it("names PostgreSQL and DATABASE_URL when it hangs, after CONNECT_TIMEOUT_MS", async () => {
    const postgres = await startPostgresServer();
    await postgres.pause();
    try {
      expect(await failure({ DATABASE_URL: postgres.url })).toBe(`PostgreSQL at DATABASE_URL=${postgres.url} did not answer within ${connectTimeoutMs / 1000} s`);
    } finally {
      await postgres.dispose();
    }
  });

  it("names the event bus's Redis and the variable it came from when it refuses or hangs", async () => {
    const port = await freePort();
    expect(await failure({ EVENT_BUS: "redis", EVENT_REDIS_URL: `redis://127.0.0.1:${port}` })).toBe(
      `Redis of the event bus at EVENT_REDIS_URL=redis://127.0.0.1:${port} refused the connection`,
    );
    const redis = await startRedisServer();
    redis.pause();
    try {
      expect(await failure({ EVENT_BUS: "redis", REDIS_URL: redis.url })).toBe(`Redis of the event bus at REDIS_URL=${redis.url} did not answer within ${connectTimeoutMs / 1000} s`);
    } finally {
      redis.resume();
      await redis.dispose();
    }
  });

  it("names DATA_DIR when it is a file", async () => {
    const file = join(dir, "a-file");
    expect(await failure({ DATABASE_URL: "", DATA_DIR: file })).toBe(`invalid configuration: DATA_DIR: ${file} is a file; it must be a directory (or not exist yet)`);
  });

  it("names PGlite and DATA_DIR when PGlite cannot start on the directory", async () => {
    const corrupt = join(dir, "corrupt-data");
    await mkdir(corrupt);
    await writeFile(join(corrupt, "PG_VERSION"), "99\n");
    // PGlite compiles its WebAssembly before it finds the directory unusable: a start's room.
    expect(await failure({ DATABASE_URL: "", DATA_DIR: corrupt }, startTimeoutMs)).toBe(`PGlite at DATA_DIR=${corrupt}: PGlite failed to initialize properly`);
  }, startTimeoutMs);

  it("names each TLS variable whose file is not a PEM certificate or key, before anything starts", async () => {
    const tls = { TLS_CERT_FILE: join(dir, "tls.crt"), TLS_KEY_FILE: join(dir, "tls.key") };
    const garbage = join(dir, "garbage.pem");
    expect(await failure({ ...tls, TLS_CA_FILE: garbage })).toBe(
      `invalid configuration: TLS_CA_FILE: ${garbage} holds no PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`,
    );
    expect(await failure({ TLS_CERT_FILE: garbage, TLS_KEY_FILE: garbage })).toMatch(
      new RegExp(`^invalid configuration: TLS_CERT_FILE: ${garbage} holds no PEM certificate .*; TLS_KEY_FILE: ${garbage} holds no PEM private key \\(`),
    );
  });
});
