// Every TypeScript block of the documentation is compiled or run by a test, so an example cannot
// drift from the API:
// - in the package READMEs, ```ts readme-example blocks compile here; a ```ts example block is a
//   file of test/ that its own test runs and compares with the README;
// - on every other page (docs/, the top-level pages), each ```ts block compiles here, except the
//   guide's `file=` blocks, which test/packaging/packaging.test.ts writes into real projects,
//   compiles and runs. Elsewhere a block with `file=schema.ts` is written under that name, so
//   the page's other examples can import it (`./schema.js`) as a user's files would.
// Here the examples compile against the packages' sources with the repository's compiler options.
// A README example imports a user's generated service from ./gen/acme/items/v1/items_pb.js; here
// that module re-exports the toolkit's test contract, which has the same shapes. A docs example
// may import the shop's generated code (./gen/shop/...) or modules (./services/...) by their path
// from the repository's root.
import { mkdir, mkdtemp, readFile, readdir, rm, rmdir, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GUIDE_PAGE, GUIDE_PROJECTS, type FencedBlock, fencedBlocks, declaredFile, isTypeScript } from "../helpers/index.js";

const repoRoot = resolve(import.meta.dirname, "../..");
const userServiceModule = "gen/acme/items/v1/items_pb.ts";
const testContract = ["test/contract/gen/protomesh/test/v1/item_pb.js", "test/contract/gen/protomesh/test/v1/price_pb.js"];
const workspaces = (JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { workspaces: string[] }).workspaces;
const packageReadmes = new Set(workspaces.map((workspace) => `${workspace}/README.md`));
// The libraries' READMEs show code; the starter (create-protomesh, a command with no exports)
// shows commands, which test/packaging/starter.test.ts runs from its tarball.
const libraryReadmes = new Set<string>();
for (const workspace of workspaces) {
  const manifest = JSON.parse(await readFile(join(repoRoot, workspace, "package.json"), "utf8")) as { exports?: unknown };
  if (manifest.exports !== undefined) libraryReadmes.add(`${workspace}/README.md`);
}

/** The repository's Markdown pages, repository-relative; skips dependencies, build output and dot-folders. */
async function markdownPages(dir = ""): Promise<string[]> {
  const pages: string[] = [];
  for (const entry of await readdir(join(repoRoot, dir), { withFileTypes: true })) {
    const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory() && !entry.name.startsWith(".") && entry.name !== "node_modules" && entry.name !== "dist") pages.push(...(await markdownPages(path)));
    else if (entry.isFile() && entry.name.endsWith(".md")) pages.push(path);
  }
  return pages.sort();
}

const where = (block: FencedBlock) => `${block.page}:${block.firstLine}`;

const compiledHere: FencedBlock[] = [];
const guideBlocks: FencedBlock[] = [];
const runByTheirTests: FencedBlock[] = [];
const uncovered: string[] = [];
for (const page of await markdownPages()) {
  for (const block of fencedBlocks(page, await readFile(join(repoRoot, page), "utf8")).filter(isTypeScript)) {
    if (packageReadmes.has(page)) {
      if (block.attributes === "readme-example") compiledHere.push(block);
      else if (block.attributes === "example") runByTheirTests.push(block);
      else uncovered.push(`${where(block)}: a README's TypeScript is \`ts readme-example\` (compiled here) or \`ts example\` (a test's file, run by it)`);
    } else if (page === GUIDE_PAGE && declaredFile(block) !== undefined) guideBlocks.push(block);
    else compiledHere.push(block);
  }
}

/** The repository's compiler options, as `tsc -p tsconfig.json` uses them. */
function repoCompilerOptions(): ts.CompilerOptions {
  const configPath = join(repoRoot, "tsconfig.json");
  const { config, error } = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
  if (error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, "\n"));
  return ts.parseJsonConfigFileContent(config, ts.sys, repoRoot, undefined, configPath).options;
}

function describeDiagnostic(diagnostic: ts.Diagnostic, block: FencedBlock | undefined): string {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n");
  if (diagnostic.file === undefined || diagnostic.start === undefined) return message;
  const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  const at = block === undefined ? `${diagnostic.file.fileName}:${line + 1}` : `${block.page}:${block.firstLine + line}`;
  return `${at}:${character + 1} TS${diagnostic.code}: ${message}`;
}

async function testSources(dir: string): Promise<Map<string, string>> {
  const sources = new Map<string, string>();
  for (const entry of await readdir(join(repoRoot, dir), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ts")) continue;
    const path = join(entry.parentPath, entry.name);
    sources.set(relative(repoRoot, path), await readFile(path, "utf8"));
  }
  return sources;
}

describe("documentation examples", () => {
  it("every TypeScript block is compiled here, run by its test, or part of the guide's projects", () => {
    const notInAProject = guideBlocks.flatMap((block) => {
      const { projects } = declaredFile(block)!;
      const unknown = projects.filter((project) => !(GUIDE_PROJECTS as readonly string[]).includes(project));
      return projects.length === 0 || unknown.length > 0 ? [`${where(block)}: \`project=\` must name some of ${GUIDE_PROJECTS.join(", ")}`] : [];
    });
    const projectsOutsideTheGuide = compiledHere
      .filter((block) => declaredFile(block)?.projects.length)
      .map((block) => `${where(block)}: \`project=\` is read only in ${GUIDE_PAGE}`);
    expect([...uncovered, ...notInAProject, ...projectsOutsideTheGuide]).toEqual([]);
  });

  it("no two examples claim one file name", () => {
    const named = compiledHere.filter((block) => declaredFile(block) !== undefined);
    const claimed = named.filter((block, i) => named.findIndex((other) => declaredFile(other)!.file === declaredFile(block)!.file) !== i);
    expect(claimed.map((block) => `${where(block)}: ${declaredFile(block)!.file} is another example's file`)).toEqual([]);
  });

  it("every library package's README shows an example", () => {
    const shown = new Set([...compiledHere, ...runByTheirTests].map((block) => block.page));
    expect([...libraryReadmes].filter((readme) => !shown.has(readme))).toEqual([]);
  });

  it("a README's `ts example` is a file of test/, verbatim (the test beside it runs it)", async () => {
    const sources = [...(await testSources("test")).entries()];
    const missing = runByTheirTests.filter((block) => !sources.some(([, source]) => source === block.code));
    expect(missing.map((block) => `${where(block)} is no file of test/`)).toEqual([]);
  });

  describe("compiled here", () => {
    // Inside the repository, so the examples resolve node_modules and are ESM like a user's app;
    // the folder is git-ignored and removed afterwards.
    let workDir: string;
    let program: ts.Program;
    const fileOf = new Map<FencedBlock, string>();

    beforeAll(async () => {
      await mkdir(join(repoRoot, ".doc-examples"), { recursive: true });
      workDir = await mkdtemp(join(repoRoot, ".doc-examples", "run-"));
      const stub = join(workDir, userServiceModule);
      await mkdir(dirname(stub), { recursive: true });
      await writeFile(stub, testContract.map((file) => `export * from "${relative(dirname(stub), join(repoRoot, file))}";\n`).join(""));
      for (const block of compiledHere) {
        const file = join(workDir, declaredFile(block)?.file ?? `${block.page.replace(/[/.]/g, "-")}-${block.firstLine}.ts`);
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, block.code);
        fileOf.set(block, file);
      }
      // rootDirs: a relative import is looked up beside the example, then from the repository's
      // root, so `./services/clients.js` and `./gen/shop/...` reach the shop's files.
      const options = { ...repoCompilerOptions(), rootDirs: [workDir, repoRoot], noEmit: true };
      program = ts.createProgram({ rootNames: [...fileOf.values()], options });
    }, 120_000);

    afterAll(async () => {
      if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
      // Only when empty: another run may be using it.
      await rmdir(join(repoRoot, ".doc-examples")).catch(() => undefined);
    });

    it("with the repository's options", () => {
      expect(program.getOptionsDiagnostics().map((d) => describeDiagnostic(d, undefined))).toEqual([]);
      expect(program.getGlobalDiagnostics().map((d) => describeDiagnostic(d, undefined))).toEqual([]);
    });

    it.each(compiledHere.map((block) => [where(block), block] as const))("%s type-checks", (_, block) => {
      const sourceFile = program.getSourceFile(fileOf.get(block) ?? "");
      expect(sourceFile, "the example is part of the program").toBeDefined();
      const diagnostics = [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)];
      expect(diagnostics.map((d) => describeDiagnostic(d, block))).toEqual([]);
    });
  });
});
