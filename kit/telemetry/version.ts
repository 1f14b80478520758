// This package's version, as its package.json says (version.test.ts checks they agree). A
// constant rather than package.json read at run time: an app bundled into one file (ADR 0152)
// has no package.json beside this module.
export const PROTOMESH_TELEMETRY_VERSION = "0.2.0";
