// Writes a CommonJS twin (.d.cts) of every declaration file in the current package's dist/, for
// the "require" condition of its exports (ADR 0130). The packages are ESM; a CommonJS app loads
// them with require(esm), and TypeScript then reads their declarations as ESM, which resolve
// drizzle-orm (a dual package) to its ESM typings while the app's own imports get the CommonJS
// ones: two unrelated declarations of every Drizzle class. Through the .d.cts files the
// packages' types resolve their dependencies the way the app does. Only relative specifiers
// change (./x.js -> ./x.cjs, which TypeScript maps to ./x.d.cts); the code stays ESM.
//
//   node <repo>/scripts/cjs-declarations.mjs   run in a package directory after tsc
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const relativeJsSpecifier = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.{1,2}\/[^"']*?)\.js\2/g;

function writeTwins(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) writeTwins(path);
    else if (entry.name.endsWith(".d.ts")) {
      const declarations = readFileSync(path, "utf8").replace(relativeJsSpecifier, "$1$2$3.cjs$2");
      writeFileSync(path.replace(/\.d\.ts$/, ".d.cts"), declarations);
    }
  }
}

writeTwins("dist");
