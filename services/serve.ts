// `npm run serve -- <orders|inventory|payments>`: runs one service, configured by environment
// variables (see docs/operations.md), until SIGTERM.

import module from "node:module";

// Only the service asked for is loaded: another's modules would lengthen every start (ADR 0144).
const services = ["orders", "inventory", "payments"];

const name = process.argv[2] ?? "";
if (!services.includes(name)) {
  console.error(`usage: npm run serve -- <${services.join("|")}>${name === "" ? "" : ` (got "${name}")`}`);
  process.exit(2);
}
// Built, a service starts from the one file the build bundled it into, which spares resolving and
// reading about 1 700 module files (ADR 0152); a build without it fails here, naming the file.
// Run from source (tsx), this file is serve.ts and runs the service's main.ts.
const built = import.meta.url.endsWith(".js");
// From Node 22.8 on, V8's compiled code of the bundle and of the modules it loads (PGlite's) is
// kept on disk and reused by the next start, instead of compiling them again (ADR 0154). The
// directory is NODE_COMPILE_CACHE's, else node-compile-cache in the temporary directory;
// NODE_DISABLE_COMPILE_CACHE=1 turns it off. Node 20 has no such cache and compiles every time.
const compileCache = module as { enableCompileCache?: () => unknown; flushCompileCache?: () => void };
compileCache.enableCompileCache?.();
await import(built ? `./${name}/main.bundle.js` : `./${name}/main.js`);
// The service listens now, and what its start compiled is written at once: Node would otherwise
// write it only at exit, which a killed replica never reaches.
compileCache.flushCompileCache?.();
