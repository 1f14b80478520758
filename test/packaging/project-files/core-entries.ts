// Written into the project without Nest as src/entries.ts: loads every framework-free entry
// point of every package, and prints their export counts, so a missing file, a wrong export or
// an import of an uninstalled package (@nestjs/*, rxjs) fails here.
const entries = [
  "@protomesh/clients",
  "@protomesh/clients/health",
  "@protomesh/server",
  "@protomesh/server/pki",
  "@protomesh/data",
  "@protomesh/data/errors",
  "@protomesh/messaging",
  "@protomesh/messaging/jetstream",
  "@protomesh/messaging/redis-streams",
  "@protomesh/telemetry",
  "@protomesh/cache",
];

const loaded: Record<string, number> = {};
for (const entry of entries) loaded[entry] = Object.keys((await import(entry)) as object).length;
console.log(JSON.stringify(loaded));
