import { describe, expect, it } from "vitest";
import { declaredFile, fencedBlocks, guideFiles, isTypeScript } from "./fenced-blocks.js";

const page = [
  "# Title",
  "",
  "```ts readme-example",
  "const a = 1;",
  "```",
  "",
  "- a list item:",
  "",
  "  ```ts",
  "  const b = {",
  "    c: 2,",
  "  };",
  "  ```",
  "",
  "```sh",
  "npm test",
  "```",
  "",
  "```ts file=src/main.ts project=cjs,core",
  "main();",
  "```",
  "",
  "```jsonc file=tsconfig.json project=core",
  "{}",
  "```",
  "",
].join("\n");

describe("fencedBlocks", () => {
  const blocks = fencedBlocks("docs/page.md", page);

  it("reads every fence with its language, attributes and first line", () => {
    expect(blocks.map(({ language, attributes, firstLine }) => ({ language, attributes, firstLine }))).toEqual([
      { language: "ts", attributes: "readme-example", firstLine: 4 },
      { language: "ts", attributes: "", firstLine: 10 },
      { language: "sh", attributes: "", firstLine: 16 },
      { language: "ts", attributes: "file=src/main.ts project=cjs,core", firstLine: 20 },
      { language: "jsonc", attributes: "file=tsconfig.json project=core", firstLine: 24 },
    ]);
    expect(blocks.filter(isTypeScript)).toHaveLength(3);
  });

  it("dedents a block inside a list item by its fence's indentation", () => {
    expect(blocks[1]?.code).toBe("const b = {\n  c: 2,\n};\n");
  });

  it("reads a block's file and projects", () => {
    expect(declaredFile(blocks[3]!)).toEqual({ file: "src/main.ts", projects: ["cjs", "core"] });
    expect(declaredFile(blocks[0]!)).toBeUndefined();
  });

  it("gives each of the guide's projects its files, whatever their language", () => {
    expect([...guideFiles(page, "core").keys()]).toEqual(["src/main.ts", "tsconfig.json"]);
    expect([...guideFiles(page, "esm").keys()]).toEqual([]);
  });
});
