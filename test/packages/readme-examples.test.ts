// Every package README's examples (```ts readme-example blocks) compile against the packages'
// sources with the repository's compiler options, so an example cannot drift from the API. The
// examples import a user's generated service from ./gen/acme/items/v1/items_pb.js; here that
// module re-exports the toolkit's test contract, which has the same shapes.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repoRoot = resolve(import.meta.dirname, "../..");
// @protomesh/testing's README example is run against a real server by test/testing/readme-example.test.ts.
// create-protomesh's README shows commands, which test/packaging/starter.test.ts runs from its tarball.
const packages = ["clients", "kit/server", "kit/data", "kit/messaging", "kit/telemetry", "kit/cache"];
const userServiceModule = "gen/acme/items/v1/items_pb.ts";
const testContract = ["test/contract/gen/protomesh/test/v1/item_pb.js", "test/contract/gen/protomesh/test/v1/price_pb.js"];

interface Example {
  readme: string;
  /** 1-based line of the README where the example's code starts. */
  firstLine: number;
  code: string;
}

function extractExamples(readme: string, text: string): Example[] {
  return [...text.matchAll(/^```ts readme-example\n([\s\S]*?)^```$/gm)].map((match) => ({
    readme,
    firstLine: text.slice(0, match.index).split("\n").length + 1,
    code: match[1] ?? "",
  }));
}

const examples: Example[] = [];
for (const pkg of packages) {
  const readme = `${pkg}/README.md`;
  examples.push(...extractExamples(readme, await readFile(join(repoRoot, readme), "utf8")));
}

/** The repository's compiler options, as `tsc -p tsconfig.json` uses them. */
function repoCompilerOptions(): ts.CompilerOptions {
  const configPath = join(repoRoot, "tsconfig.json");
  const { config, error } = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
  if (error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, "\n"));
  return ts.parseJsonConfigFileContent(config, ts.sys, repoRoot, undefined, configPath).options;
}

function describeDiagnostic(diagnostic: ts.Diagnostic, example: Example | undefined): string {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n");
  if (diagnostic.file === undefined || diagnostic.start === undefined) return message;
  const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  const where = example === undefined ? `${diagnostic.file.fileName}:${line + 1}` : `${example.readme}:${example.firstLine + line}`;
  return `${where}:${character + 1} TS${diagnostic.code}: ${message}`;
}

describe("package README examples", () => {
  // Inside the repository, so the examples resolve node_modules and are ESM like a user's app;
  // the folder is git-ignored and removed afterwards.
  let workDir: string;
  let program: ts.Program;
  const fileOf = new Map<Example, string>();

  beforeAll(async () => {
    await mkdir(join(repoRoot, ".readme-examples"), { recursive: true });
    workDir = await mkdtemp(join(repoRoot, ".readme-examples", "run-"));
    const stub = join(workDir, userServiceModule);
    await mkdir(dirname(stub), { recursive: true });
    await writeFile(stub, testContract.map((file) => `export * from "${relative(dirname(stub), join(repoRoot, file))}";\n`).join(""));
    for (const [i, example] of examples.entries()) {
      const file = join(workDir, `${example.readme.replace(/[/.]/g, "-")}-${i}.ts`);
      await writeFile(file, example.code);
      fileOf.set(example, file);
    }
    program = ts.createProgram({ rootNames: [...fileOf.values()], options: { ...repoCompilerOptions(), noEmit: true } });
  }, 120_000);

  afterAll(async () => {
    if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
  });

  it("has one for every package", () => {
    expect(packages.filter((pkg) => !examples.some((e) => e.readme === `${pkg}/README.md`))).toEqual([]);
  });

  it("compiles with the repository's options", () => {
    expect(program.getOptionsDiagnostics().map((d) => describeDiagnostic(d, undefined))).toEqual([]);
    expect(program.getGlobalDiagnostics().map((d) => describeDiagnostic(d, undefined))).toEqual([]);
  });

  it.each(examples.map((example) => [`${example.readme}:${example.firstLine}`, example] as const))("%s type-checks", (_, example) => {
    const sourceFile = program.getSourceFile(fileOf.get(example) ?? "");
    expect(sourceFile, "the example is part of the program").toBeDefined();
    const diagnostics = [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)];
    expect(diagnostics.map((d) => describeDiagnostic(d, example))).toEqual([]);
  });
});
