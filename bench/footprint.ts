// footprint: what the toolkit's packages cost a process before any call. Measures the BUILT
// packages (`npm run build` first): the child programs in bench/footprint are compiled to
// dist/bench/footprint and run on plain `node`, importing the toolkit by package name, which
// resolves through the workspace links to each package's dist/.
//   imports  median wall time of one dynamic import of each entry point in a fresh process, its
//            RSS after a forced collection (an empty process: node:path), and
//            the npm packages that import loads (one more process with ESM loader hooks that
//            record every module, plus require.cache for what CommonJS requires);
//            anchor: @nestjs/microservices. Fails if a core entry loads a package it must not.
//   idle     RSS of one ItemService server after it answered one call, a forced collection and
//            a settle: createConnectServer, a Nest microservice with ConnectTransport, and Nest's
//            own gRPC transport (anchor).
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ItemService } from "../test/contract/gen/protomesh/test/v1/item_pb.js";
import { freePort } from "../test/helpers/free-port.js";
import { startProcess } from "./harness/children.js";
import { median, round } from "./harness/stats.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const compiled = join(root, "dist/bench/footprint");

/** Fresh processes per entry point for the import time (odd: the median is one of them). */
const importRuns = 11;
/** Server processes per kind for the idle RSS. */
const idleRuns = 3;
/** Idle time after the forced collection, before RSS is read. */
const settleMs = 2_000;

/** Packages no core entry may load (framework, database drivers, certificate tooling). */
const frameworkAndDrivers = [/^@nestjs\//, /^rxjs$/, /^pg(-.+)?$/, /^@electric-sql\/pglite$/, /^@peculiar\//];
const drizzle = /^drizzle-orm$/;

interface Entry {
  specifier: string;
  /** What it must not load; undefined for the Nest entry and the anchor. */
  forbidden?: readonly RegExp[];
}

const entries: readonly Entry[] = [
  // The process itself: what every other entry's RSS includes.
  { specifier: "node:path", forbidden: [] },
  { specifier: "@protomesh/server", forbidden: [...frameworkAndDrivers, drizzle] },
  { specifier: "@protomesh/server/nest" },
  { specifier: "@protomesh/clients", forbidden: [...frameworkAndDrivers, drizzle] },
  // Opens PostgreSQL or PGlite on demand: nothing of either at import.
  { specifier: "@protomesh/data", forbidden: [...frameworkAndDrivers, drizzle] },
  // The outbox and inbox are Drizzle tables (a declared peer dependency), so drizzle-orm loads.
  { specifier: "@protomesh/messaging", forbidden: frameworkAndDrivers },
  { specifier: "@protomesh/messaging/jetstream", forbidden: [...frameworkAndDrivers, drizzle] },
  { specifier: "@nestjs/microservices" },
];
const importAnchor = "@nestjs/microservices";

const serverKinds = ["bare-connect", "nest-connect", "nest-grpc"] as const;
const idleAnchor = "nest-grpc";

interface ProbeOutput {
  importMs: number;
  rss: number;
  commonJs: string[];
}

export async function footprint(): Promise<void> {
  await compileChildren();
  await imports();
  await idle();
}

async function compileChildren(): Promise<void> {
  if (!existsSync(join(root, "kit/server/dist/index.js"))) throw new Error("footprint measures the built packages: run `npm run build` first");
  console.error("footprint: compiling bench/footprint to dist/bench/footprint");
  await run(join(root, "node_modules/.bin/tsc"), ["-p", "bench/footprint/tsconfig.build.json"], { cwd: root });
}

async function probe(specifier: string, env: NodeJS.ProcessEnv = process.env, nodeArgs: readonly string[] = []): Promise<ProbeOutput> {
  // cwd at the repository, so package names resolve through its node_modules like an app's.
  const { stdout } = await run(process.execPath, ["--expose-gc", ...nodeArgs, join(compiled, "import-probe.js"), specifier], { cwd: root, env });
  return JSON.parse(stdout) as ProbeOutput;
}

async function imports(): Promise<void> {
  // One discarded round first, so no entry pays for a cold file cache.
  for (const { specifier } of entries) await probe(specifier);
  const times = new Map<string, number[]>(entries.map((e) => [e.specifier, []]));
  const rss = new Map<string, number[]>(entries.map((e) => [e.specifier, []]));
  for (let r = 0; r < importRuns; r++) {
    // Alternating order: a host that speeds up or slows down weighs on every entry alike.
    for (const { specifier } of r % 2 === 0 ? entries : [...entries].reverse()) {
      const output = await probe(specifier);
      times.get(specifier)?.push(output.importMs);
      rss.get(specifier)?.push(output.rss);
    }
  }
  const anchorMs = median(times.get(importAnchor) ?? []);
  const violations: string[] = [];
  for (const { specifier, forbidden } of entries) {
    const packages = await packagesLoadedBy(specifier);
    const ms = times.get(specifier) ?? [];
    const offending = forbidden === undefined ? [] : packages.filter((p) => forbidden.some((pattern) => pattern.test(p)));
    violations.push(...offending.map((p) => `${specifier} loads ${p}`));
    console.log(
      JSON.stringify({
        bench: "footprint",
        part: "import",
        entry: specifier,
        importMs: round(median(ms)),
        importMsMin: round(Math.min(...ms)),
        importMsMax: round(Math.max(...ms)),
        runs: ms.length,
        ratio: round(median(ms) / anchorMs, 3),
        anchor: importAnchor,
        rssMiB: round(median(rss.get(specifier) ?? []) / 2 ** 20),
        packageCount: packages.length,
        packages,
        ...(forbidden === undefined ? {} : { forbiddenLoaded: offending }),
        load1: round(loadavg()[0] ?? 0, 2),
      }),
    );
    console.error(`footprint import ${specifier}: ${round(median(ms))} ms, ${packages.length} packages`);
  }
  if (violations.length > 0) throw new Error(`core entries load what they must not: ${violations.join("; ")}`);
}

/** The npm packages whose files one import of `specifier` loads (itself included), sorted. */
async function packagesLoadedBy(specifier: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), "protomesh-footprint-"));
  try {
    const file = join(dir, "modules.txt");
    const { commonJs } = await probe(specifier, { ...process.env, FOOTPRINT_MODULES_FILE: file }, ["--import", join(compiled, "record-modules.js")]);
    const esm = (await readFile(file, "utf8"))
      .split("\n")
      .filter((url) => url.startsWith("file:"))
      .map((url) => fileURLToPath(url));
    const files = [...esm, ...commonJs].filter((path) => !path.startsWith(compiled));
    return [...new Set(files.map(packageOf))].sort();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The package a file belongs to: the folder after its last node_modules, else the nearest named package.json (a workspace package, resolved to its real path). */
function packageOf(path: string): string {
  const marker = "/node_modules/";
  const at = path.lastIndexOf(marker);
  if (at >= 0) {
    const [first = "", second = ""] = path.slice(at + marker.length).split("/");
    return first.startsWith("@") ? `${first}/${second}` : first;
  }
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (!existsSync(manifest)) continue;
    const name = (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name;
    if (name !== undefined) return name;
  }
  throw new Error(`no package owns ${path}`);
}

interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

async function idle(): Promise<void> {
  const samples = new Map<string, Memory[]>(serverKinds.map((k) => [k, []]));
  for (let r = 0; r < idleRuns; r++) {
    for (const kind of r % 2 === 0 ? serverKinds : [...serverKinds].reverse()) {
      samples.get(kind)?.push(await idleServer(kind));
    }
  }
  const mib = (bytes: number): number => round(bytes / 2 ** 20);
  const anchorRss = median((samples.get(idleAnchor) ?? []).map((m) => m.rss));
  for (const kind of serverKinds) {
    const runs = samples.get(kind) ?? [];
    const rss = median(runs.map((m) => m.rss));
    console.log(
      JSON.stringify({
        bench: "footprint",
        part: "idle",
        variant: kind,
        rssMiB: mib(rss),
        rssMiBRuns: runs.map((m) => mib(m.rss)),
        heapUsedMiB: mib(median(runs.map((m) => m.heapUsed))),
        heapTotalMiB: mib(median(runs.map((m) => m.heapTotal))),
        externalMiB: mib(median(runs.map((m) => m.external))),
        ratio: round(rss / anchorRss, 3),
        anchor: idleAnchor,
        load1: round(loadavg()[0] ?? 0, 2),
      }),
    );
    console.error(`footprint idle ${kind}: ${mib(rss)} MiB RSS`);
  }
}

/** Starts one server, has it answer one GetItem over gRPC, closes the connection, and reads its memory once settled. */
async function idleServer(kind: (typeof serverKinds)[number]): Promise<Memory> {
  const port = await freePort();
  const server = await startProcess(join(compiled, "idle-server.js"), [kind, String(port)], ["--expose-gc"]);
  try {
    const baseUrl = `http://127.0.0.1:${port}`;
    const sessions = new Http2SessionManager(baseUrl);
    const client = createClient(ItemService, createGrpcTransport({ baseUrl, sessionManager: sessions }));
    const answer = await client.getItem({ itemId: "footprint-1" });
    sessions.abort();
    if (answer.item?.itemId !== "footprint-1") throw new Error(`${kind} answered GetItem with ${JSON.stringify(answer.item)}`);
    return await server.request<Memory>({ type: "settle", ms: settleMs });
  } finally {
    await server.stop();
  }
}
