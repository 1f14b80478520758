// `npm run serve -- <orders|inventory|payments>`: runs one service, configured by environment
// variables (see docs/operations.md), until SIGTERM.

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
await import(built ? `./${name}/main.bundle.js` : `./${name}/main.js`);
