// `npm run serve -- <orders|inventory|payments>`: runs one service, configured by environment
// variables (see docs/operations.md), until SIGTERM.
import { existsSync } from "node:fs";

// Only the service asked for is loaded: another's modules would lengthen every start (ADR 0144).
const services = ["orders", "inventory", "payments"];

const name = process.argv[2] ?? "";
if (!services.includes(name)) {
  console.error(`usage: npm run serve -- <${services.join("|")}>${name === "" ? "" : ` (got "${name}")`}`);
  process.exit(2);
}
// Built, a service starts from the one file the build bundled it into, which spares resolving and
// reading about 1 700 module files (ADR 0152); run from source, there is no bundle beside this file.
const bundle = new URL(`./${name}/main.bundle.js`, import.meta.url);
await import(existsSync(bundle) ? bundle.href : `./${name}/main.js`);
