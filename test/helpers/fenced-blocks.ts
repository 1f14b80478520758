// The fenced code blocks of a Markdown page, as the tests that compile and run the documentation
// read them: test/packages/doc-examples.test.ts and test/packaging/packaging.test.ts.

export interface FencedBlock {
  /** Repository-relative path of the page. */
  page: string;
  /** 1-based line of the page where the block's code starts. */
  firstLine: number;
  /** The first word of the info string: `ts`, `sh`, `jsonc`… */
  language: string;
  /** The rest of the info string: `readme-example`, `file=src/main.ts project=cjs,esm`… */
  attributes: string;
  code: string;
}

const TYPESCRIPT = new Set(["ts", "typescript", "mts", "cts", "tsx"]);

/** Fences at any indentation (a block inside a list item counts too); the code is dedented. */
export function fencedBlocks(page: string, text: string): FencedBlock[] {
  return [...text.matchAll(/^( *)```([^\n`]*)\n([\s\S]*?)^\1```[ \t]*$/gm)].map((match) => {
    const [, indent = "", info = "", body = ""] = match;
    const [language = "", ...attributes] = info.trim().split(/\s+/);
    return {
      page,
      firstLine: text.slice(0, match.index).split("\n").length + 1,
      language,
      attributes: attributes.join(" "),
      code: indent === "" ? body : body.replace(new RegExp(`^ {0,${indent.length}}`, "gm"), ""),
    };
  });
}

export function isTypeScript(block: FencedBlock): boolean {
  return TYPESCRIPT.has(block.language);
}

/** The page whose `file=` blocks the packaging test writes into projects and compiles and runs. */
export const GUIDE_PAGE = "docs/using-protomesh.md";
/** The projects the packaging test builds from the guide. */
export const GUIDE_PROJECTS = ["cjs", "esm", "core"] as const;
export type GuideProject = (typeof GUIDE_PROJECTS)[number];

/** The file a block is (`file=`) and, in the guide, the projects that get it (`project=`); undefined without `file=`. */
export function declaredFile(block: FencedBlock): { file: string; projects: string[] } | undefined {
  const file = /(?:^|\s)file=(\S+)/.exec(block.attributes)?.[1];
  if (file === undefined) return undefined;
  const projects = /(?:^|\s)project=(\S+)/.exec(block.attributes)?.[1]?.split(",") ?? [];
  return { file, projects };
}

/** The files of one of the guide's projects: path → contents. */
export function guideFiles(guide: string, project: GuideProject): Map<string, string> {
  const files = new Map<string, string>();
  for (const block of fencedBlocks(GUIDE_PAGE, guide)) {
    const target = declaredFile(block);
    if (target?.projects.includes(project)) files.set(target.file, block.code);
  }
  return files;
}
