// import-probe.js <specifier>: times one dynamic import of `specifier` in this fresh process and
// writes {importMs, rss, commonJs} to stdout: rss after a forced collection (run with
// --expose-gc), commonJs the CommonJS files loaded (what `require` reached, which ESM loader
// hooks do not see on Node 20).
import { writeSync } from "node:fs";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";

const [specifier] = process.argv.slice(2);
if (specifier === undefined) throw new Error("usage: import-probe.js <specifier>");
const started = performance.now();
await import(specifier);
const importMs = performance.now() - started;
globalThis.gc?.();
const rss = process.memoryUsage.rss();
const commonJs = Object.keys(createRequire(import.meta.url).cache);
// Synchronous: a write to a pipe is asynchronous in Node and exit would cut it short.
writeSync(1, JSON.stringify({ importMs, rss, commonJs }));
process.exit(0);
