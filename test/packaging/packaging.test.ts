// What a user gets from npm: every public package packed into a tarball, then fresh projects in
// the system's temp directory (outside this repository, so no workspace link, tsconfig path or
// hoisted dependency can help) install only those tarballs and public packages, generate their
// own contract, type-check and run the code of docs/using-protomesh.md (ADR 0130).
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.js";
import { GUIDE_PAGE, guideFiles, type GuideProject } from "../helpers/fenced-blocks.js";
import { SHARED_NATS_URL, streamJanitor, uniqueName } from "../helpers/nats-streams.js";
import { libraryWorkspaces, lockedVersion, packWorkspaces, repo, repoBin, requireBuild, timedShell, workspaceManifest, type PackResult } from "./tarballs.js";

// The Nest CLI is not a dependency of this repository; npx fetches this release once and caches it.
const NEST_CLI = "@nestjs/cli@12.0.15";
// The starter has its own test (starter.test.ts); these are the libraries.
const libraries = await libraryWorkspaces();

// Seconds per step, printed at the end: the test must stay short enough to run on every change.
const timings: string[] = [];
const sh = timedShell(timings);

/** The guide's files for one project: its fenced blocks whose info string names a `file=` and that project. */
async function guideProjectFiles(project: GuideProject): Promise<Map<string, string>> {
  return guideFiles(await readFile(join(repo, GUIDE_PAGE), "utf8"), project);
}

async function writeFiles(dir: string, files: Map<string, string>): Promise<void> {
  for (const [file, body] of files) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await writeFile(join(dir, file), body);
  }
}

const publicNestDependencies = ["@nestjs/common", "@nestjs/core", "@nestjs/microservices", "@nestjs/platform-express", "rxjs"];
const publicDependencies = [
  "@bufbuild/protobuf",
  "@bufbuild/protovalidate",
  "@connectrpc/connect",
  "@connectrpc/connect-node",
  "@opentelemetry/api",
  "@peculiar/x509",
  "reflect-metadata",
  "drizzle-orm",
  "pg",
  "@nats-io/jetstream",
  "@nats-io/transport-node",
];
const devDependencies = ["typescript", "@types/node"];

// The projects are independent (own directories, databases and streams), so their tests run at
// the same time: most of each is npm install, tsc and waiting on the network, not one core.
describe.concurrent("the packed packages in projects outside the repository", () => {
  let root: string;
  let packed: PackResult[];
  const databases: TestDatabase[] = [];
  const streams = streamJanitor();

  beforeAll(async () => {
    requireBuild();
    root = await mkdtemp(join(tmpdir(), "protomesh-packaging-"));
    await mkdir(join(root, "tarballs"));
    const names = new Set(await Promise.all(libraries.map(async (w) => (await workspaceManifest(w)).name)));
    packed = (await packWorkspaces(sh, join(root, "tarballs"))).filter((p) => names.has(p.name));
  }, 120_000);

  afterAll(async () => {
    console.log(timings.join("\n"));
    await streams.cleanup();
    for (const database of databases) await database.drop();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it("packs every workspace package with each export's code and types, and nothing else", async () => {
    expect(packed.map((p) => p.name).sort()).toEqual((await Promise.all(libraries.map(async (w) => (await workspaceManifest(w)).name))).sort());
    for (const workspace of libraries) {
      const manifest = await workspaceManifest(workspace);
      const files = new Set(packed.find((p) => p.name === manifest.name)!.files.map((f) => f.path));
      for (const target of Object.values(manifest.exports!).flatMap((e) => [e.require.types, e.types, e.default])) {
        expect(files, `${manifest.name} ships ${target}`).toContain(target.replace(/^\.\//, ""));
      }
      expect(files, `${manifest.name} ships its README`).toContain("README.md");
      expect(files, `${manifest.name} ships its CHANGELOG`).toContain("CHANGELOG.md");
      const strays = [...files].filter((f) => !/^(dist\/.*\.(js|d\.ts|d\.cts|js\.map|d\.ts\.map)|package\.json|README\.md|CHANGELOG\.md|LICENSE)$/.test(f) || /\.test\./.test(f));
      expect(strays, `${manifest.name} ships only built code`).toEqual([]);
    }
  });

  it("passes npm publish --dry-run for every package", async () => {
    const outputs = await Promise.all(libraries.map((workspace) => sh("npm", ["publish", "--dry-run", "--workspace", workspace], repo)));
    for (const out of outputs) expect(out).toMatch(/\+ @protomesh\/[a-z]+@0\./);
  }, 120_000);

  // One `nest new` at a time: two npx runs of an uncached package would both install it into the
  // same npx cache directory.
  let nestCliFree: Promise<unknown> = Promise.resolve();

  async function nestProject(type: "cjs" | "esm"): Promise<string> {
    const name = `greeter-${type}`;
    const created = nestCliFree.then(() => sh("npx", ["--yes", "--prefer-offline", NEST_CLI, "new", name, "--type", type, "--skip-git", "--skip-install", "--skip-tests", "--skip-skills", "--no-observe", "--no-interactive", "--package-manager", "npm"], root));
    nestCliFree = created.catch(() => undefined);
    await created;
    const dir = join(root, name);
    // Keep what nest new wrote (tsconfig, module type, scripts); install exact versions of the
    // public packages from this repository's lockfile instead of its ranges, so the install is
    // offline from npm's cache and the versions are the ones CI tests.
    await writeFiles(dir, await guideProjectFiles(type));
    await writeFile(join(dir, "src/check.ts"), await readFile(join(import.meta.dirname, "project-files/nest-check.ts"), "utf8"));
    await install(dir, [...publicNestDependencies, ...publicDependencies], [...devDependencies, "drizzle-kit"]);
    await generate(dir);
    await sh("npx", ["drizzle-kit", "generate"], dir);
    await sh("npx", ["tsc", "-p", "tsconfig.json"], dir);
    return dir;
  }

  /** One `npm install` of the tarballs and the exact public versions, written into package.json first. */
  async function install(dir: string, dependencies: string[], dev: string[]): Promise<void> {
    const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as Record<string, unknown>;
    manifest["dependencies"] = Object.fromEntries([
      ...packed.map((p) => [p.name, `file:${join(root, "tarballs", p.filename)}`]),
      ...dependencies.map((name) => [name, lockedVersion(name)]),
    ]);
    manifest["devDependencies"] = Object.fromEntries(dev.map((name) => [name, lockedVersion(name)]));
    await writeFile(join(dir, "package.json"), JSON.stringify(manifest, null, 2));
    await sh("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline"], dir);
  }

  /** The user's buf generate with this repository's buf and protoc-gen-es (offline binaries). */
  async function generate(dir: string): Promise<void> {
    await sh(join(repoBin, "buf"), ["generate"], dir, { PATH: `${repoBin}:${process.env.PATH ?? ""}` });
    expect(existsSync(join(dir, "src/gen/greeter/v1/greeter_pb.ts"))).toBe(true);
  }

  async function runNestCheck(dir: string, label: string) {
    const database = await createTestDatabase(`packaging_${label}`);
    databases.push(database);
    const stream = streams.track(uniqueName(`PACKAGING_${label.toUpperCase()}`));
    const out = await sh("node", ["dist/src/check.js"], dir, {
      DATABASE_URL: database.url,
      NATS_URL: SHARED_NATS_URL,
      CERTS_DIR: join(dir, ".certs"),
      EVENTS_STREAM: stream,
      EVENTS_SUBJECT_PREFIX: stream.toLowerCase(),
    });
    return JSON.parse(out.trim().split("\n").at(-1)!) as {
      answers: { greeting: string; replica: string; caller: string }[];
      strangerCode: string;
      republishedDuplicate: boolean;
      deliveries: number;
      seen: { name: string; deliveries: number }[];
      inbox: number;
    };
  }

  function expectServedCalledAndHandledOnce(result: Awaited<ReturnType<typeof runNestCheck>>): void {
    const names = ["Ada", "Grace", "Edsger", "Barbara"];
    expect(result.answers.map((a) => a.greeting)).toEqual(names.map((n) => `Hello, ${n}!`));
    expect(new Set(result.answers.map((a) => a.caller))).toEqual(new Set(["spiffe://acme.internal/frontend"]));
    // Round-robin over two replicas: both answered, each twice.
    expect(result.answers.filter((a) => a.replica === "greeter-1")).toHaveLength(2);
    expect(result.answers.filter((a) => a.replica === "greeter-2")).toHaveLength(2);
    expect(result.strangerCode).toBe("PermissionDenied");
    // The republished event was stored as a new message and delivered: five deliveries, four effects.
    expect(result.republishedDuplicate).toBe(false);
    expect(result.deliveries).toBe(5);
    expect(result.seen.map((s) => s.name).sort()).toEqual([...names].sort());
    expect(result.seen.every((s) => s.deliveries === 1)).toBe(true);
    expect(result.inbox).toBe(4);
  }

  it("a CommonJS project from nest new serves over mTLS, balances two replicas and handles an outbox event once", async () => {
    const dir = await nestProject("cjs");
    const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as { type?: string };
    expect(manifest.type ?? "commonjs").toBe("commonjs");
    // Compiled to CommonJS: the packages are loaded through require(esm).
    expect(await readFile(join(dir, "dist/src/replica.js"), "utf8")).toMatch(/require\("@protomesh\/server\/nest"\)/);
    expectServedCalledAndHandledOnce(await runNestCheck(dir, "cjs"));
  }, 300_000);

  it("an ESM project from nest new does the same", async () => {
    const dir = await nestProject("esm");
    expectServedCalledAndHandledOnce(await runNestCheck(dir, "esm"));
  }, 300_000);

  it("a project without Nest or rxjs imports every core entry and serves and calls with createConnectServer and createClient", async () => {
    const dir = join(root, "greeter-core");
    await mkdir(dir);
    await writeFile(join(dir, "package.json"), JSON.stringify({ name: "greeter-core", private: true, type: "module" }, null, 2));
    await writeFiles(dir, await guideProjectFiles("core"));
    await writeFile(join(dir, "src/entries.ts"), await readFile(join(import.meta.dirname, "project-files/core-entries.ts"), "utf8"));
    await install(dir, [...publicDependencies, "ioredis"], devDependencies);
    const installed = await readdir(join(dir, "node_modules"));
    expect(installed).not.toContain("@nestjs");
    expect(installed).not.toContain("rxjs");
    await generate(dir);
    await sh("npx", ["tsc", "-p", "tsconfig.json"], dir);

    const entries = JSON.parse(await sh("node", ["dist/entries.js"], dir)) as Record<string, number>;
    expect(Object.keys(entries)).toHaveLength(11);
    for (const [entry, count] of Object.entries(entries)) expect(count, entry).toBeGreaterThan(0);

    const out = await sh("node", ["dist/serve.js"], dir, { CERTS_DIR: join(dir, ".certs") });
    const lines = out.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Hello, Ada! \(from greeter-[12], you are spiffe:\/\/acme\.internal\/frontend\)$/);
    expect(lines[1]).toMatch(/^Hello, Grace! \(from greeter-[12], you are spiffe:\/\/acme\.internal\/frontend\)$/);
    expect(new Set(lines.map((l) => /from (greeter-\d)/.exec(l)![1]))).toEqual(new Set(["greeter-1", "greeter-2"]));
  }, 300_000);
});
