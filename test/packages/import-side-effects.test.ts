// Importing a toolkit package changes nothing in its user's process: no globals, no Reflect
// polyfill, no process listeners, no protobuf-es setting. Run in a fresh Node process against the
// built packages (npm test builds them first), the way an app loads them from node_modules.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../..");

/** Every export of every workspace package except the framework adapters and the dev PKI (the starter is a command and has none). */
function coreEntries(): string[] {
  const { workspaces } = JSON.parse(readFileSync(resolve(root, "package.json"), "utf8")) as { workspaces: string[] };
  return workspaces.flatMap((dir) => {
    const manifest = JSON.parse(readFileSync(resolve(root, dir, "package.json"), "utf8")) as { name: string; exports?: Record<string, unknown> };
    return Object.keys(manifest.exports ?? {})
      .filter((subpath) => subpath !== "./nest" && subpath !== "./pki")
      .map((subpath) => manifest.name + subpath.slice(1));
  });
}

const probe = (entries: string[]) => `
const { getTextEncoding } = await import("@bufbuild/protobuf/wire");
const events = ["exit", "beforeExit", "uncaughtException", "unhandledRejection", "warning", "SIGINT", "SIGTERM"];
const snapshot = () => ({
  globals: Object.getOwnPropertyNames(globalThis).sort(),
  reflect: Object.getOwnPropertyNames(Reflect).sort(),
  listeners: Object.fromEntries(events.map((event) => [event, process.listenerCount(event)])),
  textEncoding: getTextEncoding(),
});
const before = snapshot();
for (const entry of ${JSON.stringify(entries)}) await import(entry);
const after = snapshot();
console.log(JSON.stringify({
  globals: after.globals.filter((name) => !before.globals.includes(name)),
  reflect: after.reflect.filter((name) => !before.reflect.includes(name)),
  listeners: [before.listeners, after.listeners],
  sameTextEncoding: before.textEncoding === after.textEncoding,
}));
`;

describe("importing the toolkit's core entries", () => {
  it("adds no global, Reflect method or process listener and leaves protobuf-es's encoding alone", async () => {
    const entries = coreEntries();
    expect(entries).toEqual(expect.arrayContaining(["@protomesh/server", "@protomesh/clients", "@protomesh/messaging", "@protomesh/data"]));
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", probe(entries)], { cwd: root });
    const result = JSON.parse(stdout) as { globals: string[]; reflect: string[]; listeners: [unknown, unknown]; sameTextEncoding: boolean };
    expect(result.globals).toEqual([]);
    expect(result.reflect).toEqual([]);
    expect(result.listeners[1]).toEqual(result.listeners[0]);
    expect(result.sameTextEncoding).toBe(true);
  });

  it("would see a Reflect polyfill: the dev PKI entry, which @peculiar/x509 needs, loads one", async () => {
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", probe(["@protomesh/server/pki"])], { cwd: root });
    expect((JSON.parse(stdout) as { reflect: string[] }).reflect).toContain("getMetadata");
  });
});
