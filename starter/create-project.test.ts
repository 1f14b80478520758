import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createProject, defaultTemplateDirectory, StarterError } from "./create-project.js";

const repo = join(import.meta.dirname, "..");

describe("createProject", () => {
  let scratch: string;
  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), "create-protomesh-"));
  });
  afterEach(() => rm(scratch, { recursive: true, force: true }));

  it("copies the template, restores .gitignore and names the package after the directory", async () => {
    const directory = await createProject({ directory: join(scratch, "my-api"), protomeshVersion: "1.2.3" });
    const files = await readdir(directory);
    expect(files).toContain(".gitignore");
    expect(files).not.toContain("gitignore");
    for (const file of ["package.json", "buf.yaml", "buf.gen.yaml", "proto", "gen", "contracts", "src", "test", "scripts", "README.md"]) expect(files).toContain(file);
    const manifest = JSON.parse(await readFile(join(directory, "package.json"), "utf8")) as Record<string, Record<string, string>>;
    expect(manifest["name"]).toBe("my-api");
    expect(manifest["dependencies"]!["@protomesh/server"]).toBe("^1.2.3");
    expect(manifest["devDependencies"]!["@protomesh/testing"]).toBe("^1.2.3");
  });

  it("takes a package name of its own", async () => {
    const directory = await createProject({ directory: join(scratch, "Work Dir"), name: "@acme/notes", protomeshVersion: "0.2.0" });
    expect((JSON.parse(await readFile(join(directory, "package.json"), "utf8")) as { name: string }).name).toBe("@acme/notes");
  });

  it("writes into an existing empty directory and refuses one that holds anything, leaving it untouched", async () => {
    await mkdir(join(scratch, "empty"));
    await createProject({ directory: join(scratch, "empty"), protomeshVersion: "0.2.0" });
    await mkdir(join(scratch, "taken"));
    await writeFile(join(scratch, "taken", "keep.txt"), "mine");
    await expect(createProject({ directory: join(scratch, "taken"), protomeshVersion: "0.2.0" })).rejects.toThrow(StarterError);
    await expect(createProject({ directory: join(scratch, "taken"), protomeshVersion: "0.2.0" })).rejects.toThrow(/taken is not empty \(keep\.txt\)/);
    expect(await readdir(join(scratch, "taken"))).toEqual(["keep.txt"]);
  });

  it("refuses a name npm would refuse", async () => {
    await expect(createProject({ directory: join(scratch, "My API"), protomeshVersion: "0.2.0" })).rejects.toThrow(/"My API" is not a valid npm package name/);
    expect(await readdir(scratch)).toEqual([]);
  });
});

// The template's copies of this repository's files cannot drift: the generated repository's gate
// checks its vendored validate.proto with the same script, and it pins the versions tested here.
describe("the template", () => {
  it("carries this repository's protovalidate printer and its output", async () => {
    for (const [copy, original] of [
      ["scripts/protovalidate-proto.mjs", "scripts/protovalidate-proto.mjs"],
      ["proto-vendor/buf/validate/validate.proto", "proto-vendor/buf/validate/validate.proto"],
    ] as const) {
      expect(await readFile(join(defaultTemplateDirectory, copy), "utf8"), copy).toBe(await readFile(join(repo, original), "utf8"));
    }
  });

  it("pins every public package at the version this repository installs", async () => {
    const root = JSON.parse(await readFile(join(repo, "package.json"), "utf8")) as Record<string, Record<string, string>>;
    const template = JSON.parse(await readFile(join(defaultTemplateDirectory, "package.json"), "utf8")) as Record<string, Record<string, string>>;
    const tested = { ...root["dependencies"], ...root["devDependencies"] };
    for (const [name, version] of Object.entries({ ...template["dependencies"], ...template["devDependencies"] })) {
      if (name.startsWith("@protomesh/")) continue;
      expect(version, name).toBe(tested[name]);
    }
  });
});
