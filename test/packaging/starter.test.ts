// Issue 19's starter as a user gets it: create-protomesh runs from its packed tarball in the
// system's temp directory, the repository it writes installs the toolkit from the packed
// tarballs (as a private registry would serve them) and public packages, and its own `npm test`
// passes; then a second RPC is added as a user would add it, and a breaking edit fails the gate.
// Each phase's duration is printed: together they are the time from nothing to a served, called,
// contract-tested service (ADR 0138).
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SHARED_NATS_URL, streamJanitor, uniqueName } from "../helpers/nats-streams.js";
import { packWorkspaces, repo, requireBuild, timedShell, workspaceManifest, type PackResult } from "./tarballs.js";

const timings: string[] = [];
const sh = timedShell(timings);
const phases: { name: string; seconds: number }[] = [];

async function phase<T>(name: string, step: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await step();
  phases.push({ name, seconds: (performance.now() - started) / 1000 });
  return result;
}

/** Runs a command expected to fail; returns its output. */
async function failing(dir: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const outcome = await sh(command, args, dir, env).then(
    () => undefined,
    (error: Error) => error.message,
  );
  if (outcome === undefined) throw new Error(`${command} ${args.join(" ")} passed in ${dir}, expected a failure`);
  return outcome;
}

/** Applies each replacement once, failing when its anchor is not in the file (the template changed). */
async function edit(file: string, replacements: [string | RegExp, string][]): Promise<void> {
  let text = await readFile(file, "utf8");
  for (const [anchor, replacement] of replacements) {
    const found = typeof anchor === "string" ? text.includes(anchor) : anchor.test(text);
    if (!found) throw new Error(`${file} has no ${String(anchor)}: update the edit to the template`);
    text = text.replace(anchor, replacement);
  }
  await writeFile(file, text);
}

describe("create-protomesh from its tarball", () => {
  let root: string;
  let packed: PackResult[];
  let starterTarball: string;
  const streams = streamJanitor();

  beforeAll(async () => {
    requireBuild();
    root = await mkdtemp(join(tmpdir(), "protomesh-starter-"));
    await mkdir(join(root, "tarballs"));
    packed = await phase("npm pack (every workspace)", () => packWorkspaces(sh, join(root, "tarballs")));
    starterTarball = join(root, "tarballs", packed.find((p) => p.name === "create-protomesh")!.filename);
  }, 120_000);

  afterAll(async () => {
    console.log(`create-protomesh phases:\n${phases.map((p) => `${p.seconds.toFixed(1).padStart(7)} s  ${p.name}`).join("\n")}`);
    console.log(`commands:\n${timings.join("\n")}`);
    await streams.cleanup();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  /** `npx create-protomesh`, with the package taken from the tarball. */
  const create = (args: string[], cwd: string) => sh("npm", ["exec", "--yes", "--prefer-offline", `--package=${starterTarball}`, "--", "create-protomesh", ...args], cwd);

  it("ships its command and the whole template, gen/ and the baseline included", async () => {
    const manifest = await workspaceManifest("starter");
    const files = new Set(packed.find((p) => p.name === manifest.name)!.files.map((f) => f.path));
    for (const file of [
      "dist/cli.js",
      "dist/create-project.js",
      "README.md",
      "CHANGELOG.md",
      "template/package.json",
      "template/gitignore",
      "template/proto/notes/v1/notes.proto",
      "template/proto-vendor/buf/validate/validate.proto",
      "template/gen/notes/v1/notes_pb.ts",
      "template/contracts/baseline.binpb",
      "template/migrations/meta/_journal.json",
      "template/scripts/contracts-check.sh",
      "template/scripts/ci.sh",
      "template/test/contract.test.ts",
    ]) {
      expect(files, `create-protomesh ships ${file}`).toContain(file);
    }
    expect([...files].filter((f) => /(^|\/)(node_modules|\.data|dist\/.*\.test\.)/.test(f) || f.startsWith("template/dist/"))).toEqual([]);
    expect(await sh("npm", ["publish", "--dry-run", "--workspace", "starter"], repo)).toMatch(/\+ create-protomesh@0\./);
  });

  it("prints its usage and refuses a directory that is not empty", async () => {
    expect(await create(["--help"], root)).toMatch(/^Usage: npm create protomesh <directory>/);
    await mkdir(join(root, "taken"));
    await writeFile(join(root, "taken", "notes.txt"), "mine");
    const refusal = await failing(root, "npm", ["exec", "--yes", "--prefer-offline", `--package=${starterTarball}`, "--", "create-protomesh", "taken"]);
    expect(refusal).toMatch(/create-protomesh: .*taken is not empty \(notes\.txt\): choose a new directory/);
    expect(await readFile(join(root, "taken", "notes.txt"), "utf8")).toBe("mine");
  });

  it("writes a repository whose npm test passes, that serves through reflection, takes a new RPC and fails the gate on a breaking edit", async () => {
    const dir = join(root, "my-api");
    const output = await phase("npm create protomesh my-api (npx create-protomesh, from the tarball)", () => create(["my-api"], root));
    expect(output).toContain(`Created ${dir}`);

    // As a private registry would serve them: @protomesh/* from the packed tarballs. The starter
    // asked for ^<its own version>, which each tarball satisfies.
    const manifestPath = join(dir, "package.json");
    const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as Record<string, Record<string, string>>;
    expect(manifest["name"]).toBe("my-api");
    for (const field of ["dependencies", "devDependencies"]) {
      for (const [name, range] of Object.entries(manifest[field]!)) {
        if (!name.startsWith("@protomesh/")) continue;
        expect(range).toBe(`^${(await workspaceManifest("starter")).version}`);
        manifest[field]![name] = `file:${join(root, "tarballs", packed.find((p) => p.name === name)!.filename)}`;
      }
    }
    await writeFile(manifestPath, JSON.stringify(manifest, null, 2));

    await phase("npm install", () => sh("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline"], dir));
    const stream = streams.track(uniqueName("STARTER_TEST"));
    // Plain output (no colour codes) for the assertions on it.
    const env = { NATS_URL: SHARED_NATS_URL, REQUIRE_NATS: "1", NO_COLOR: "1", FORCE_COLOR: "0" };
    const tested = await phase("npm test (gate, tsc, vitest: contract, client, outbox and relay tests)", () => sh("npm", ["test"], dir, env));
    expect(tested).toContain("contract gate: ok");
    expect(tested).toMatch(/Tests\s+6 passed \(6\)/);

    const served = await phase("npm start until listening, buf curl through reflection", () =>
      serveAndCurl(dir, { ...env, PORT: "0", EVENTS_STREAM: stream, EVENTS_SUBJECT_PREFIX: stream.toLowerCase() }),
    );
    expect(served.methods).toEqual(["notes.v1.NotesService/CreateNote"]);
    expect(JSON.parse(served.created)).toMatchObject({ note: { title: "Hello" } });

    // A user adds a second RPC: the contract first, then the gate says gen/ is stale until
    // `npm run generate`, then the implementation and its test; the gate and tests pass.
    const proto = join(dir, "proto/notes/v1/notes.proto");
    await edit(proto, [
      [
        "  rpc CreateNote(CreateNoteRequest) returns (CreateNoteResponse);\n",
        "  rpc CreateNote(CreateNoteRequest) returns (CreateNoteResponse);\n  // Reads a note back.\n  rpc GetNote(GetNoteRequest) returns (GetNoteResponse);\n",
      ],
      [/\n$/, "\n\nmessage GetNoteRequest {\n  string note_id = 1 [(buf.validate.field).string.uuid = true];\n}\n\nmessage GetNoteResponse {\n  Note note = 1;\n}\n"],
    ]);
    const stale = await phase("add GetNote: npm run gate before generating (fails)", () => failing(dir, "npm", ["run", "gate"]));
    expect(stale).toMatch(/contract gate FAILED: gen\/ is what buf generate produces/);
    await phase("add GetNote: npm run generate", () => sh("npm", ["run", "generate"], dir));
    await edit(join(dir, "src/notes.controller.ts"), [
      ['import { ConnectService } from "@protomesh/server/nest";\n', 'import { NotFoundError } from "@protomesh/server";\nimport { ConnectService } from "@protomesh/server/nest";\nimport { eq } from "drizzle-orm";\n'],
      ["type CreateNoteRequest }", "type CreateNoteRequest, type GetNoteRequest }"],
      [/\n}\n$/, `

  async getNote(req: GetNoteRequest) {
    const [row] = await this.database.db.select().from(notes).where(eq(notes.id, req.noteId));
    if (row === undefined) throw new NotFoundError(\`no note \${req.noteId}\`);
    return { note: create(NoteSchema, { noteId: row.id, title: row.title, body: row.body }) };
  }
}
`],
    ]);
    await writeFile(join(dir, "test/get-note.test.ts"), await readFile(join(import.meta.dirname, "project-files/starter/get-note.test.ts"), "utf8"));
    const retested = await phase("add GetNote: npm test", () => sh("npm", ["test"], dir, env));
    expect(retested).toContain("contract gate: ok");
    expect(retested).toMatch(/Tests\s+8 passed \(8\)/);

    // A breaking edit: a field renamed (wire-compatible, but not for generated code or JSON).
    await edit(proto, [["  string body = 3;\n", "  string text = 3;\n"]]);
    const refused = await phase("breaking edit: npm run gate (fails)", () => failing(dir, "npm", ["run", "gate"]));
    expect(refused).toMatch(/contract gate FAILED: buf breaking/);
    expect(refused).toMatch(/Field "3" with name "text" on message "Note" changed option "json_name" from "body" to "text"|Field "3" on message "Note" changed name from "body" to "text"/);
  }, 900_000);
});

/** `npm start`, wait for its "serving" line, list and call the service with buf curl through reflection, stop it. */
async function serveAndCurl(dir: string, env: NodeJS.ProcessEnv): Promise<{ methods: string[]; created: string }> {
  // Its own process group, so stopping it reaches node under npm.
  const child = spawn("npm", ["start"], { cwd: dir, env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  try {
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not listen within 120 s:\n${log}`)), 120_000);
      child.stdout.on("data", (chunk: Buffer) => {
        log += chunk.toString();
        const match = /serving notes\.v1\.NotesService on (\S+)/.exec(log);
        if (match !== null) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      void exited.then((code) => reject(new Error(`npm start exited with ${code}:\n${log}`)));
    });
    const buf = join(dir, "node_modules/.bin/buf");
    const flags = ["--protocol", "grpc", "--http2-prior-knowledge"];
    const listed = await sh(buf, ["curl", "--list-methods", ...flags, `http://${address}`], dir);
    const created = await sh(buf, ["curl", ...flags, "-d", '{"title": "Hello"}', `http://${address}/notes.v1.NotesService/CreateNote`], dir);
    return { methods: listed.trim().split("\n").filter((line) => line.startsWith("notes.")), created };
  } finally {
    if (child.exitCode === null) process.kill(-child.pid!, "SIGTERM");
    await exited;
  }
}

