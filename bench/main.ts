// npm run bench [-- <name>...] [-- --warmup 5 --saga-warmup 60 --seconds 8 --concurrency 64 --tail-concurrency 16 --writers 16 --rate 0 --rates 25,50,100,150,200 --rounds 1 --only a,b]
// Runs the named benchmarks (all by default) and prints one JSON line per variant on stdout;
// progress goes to stderr.
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { client } from "./client.js";
import { footprint } from "./footprint.js";
import { gc } from "./gc.js";
import { pgliteOpen } from "./pglite-open.js";
import { breaker, retry } from "./resilience.js";
import { relay } from "./relay.js";
import { rpc } from "./rpc.js";
import { saga } from "./saga.js";
import { sagaSteps } from "./saga-steps.js";
import { tail } from "./tail.js";
import type { BenchSettings } from "./settings.js";

const benchmarks: Record<string, (s: BenchSettings) => Promise<void>> = { rpc, client, tail, breaker, retry, relay, saga, "saga-steps": sagaSteps, gc, footprint, "pglite-open": pgliteOpen };

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    warmup: { type: "string", default: "5" },
    "saga-warmup": { type: "string", default: "60" },
    seconds: { type: "string", default: "8" },
    concurrency: { type: "string", default: "64" },
    "tail-concurrency": { type: "string", default: "16" },
    writers: { type: "string", default: "16" },
    rate: { type: "string", default: "0" },
    rates: { type: "string", default: "25,50,100,150,200" },
    rounds: { type: "string", default: "1" },
    only: { type: "string", default: "" },
  },
});
const settings: BenchSettings = {
  warmupS: Number(values.warmup),
  sagaWarmupS: Number(values["saga-warmup"]),
  seconds: Number(values.seconds),
  concurrency: Number(values.concurrency),
  tailConcurrency: Number(values["tail-concurrency"]),
  writers: Number(values.writers),
  rate: Number(values.rate),
  rates: values.rates.split(",").filter(Boolean).map(Number),
  rounds: Number(values.rounds),
  only: values.only.split(",").filter(Boolean),
};
if (!Number.isInteger(settings.rounds) || settings.rounds < 1) throw new Error(`--rounds must be a whole number ≥ 1, got ${values.rounds}`);
if (settings.rates.some((rate) => !(rate > 0))) throw new Error(`--rates must be positive orders/s separated by commas, got ${values.rates}`);
if (settings.warmupS < 5) console.error("warning: a warm-up under 5 s measures servers that are still speeding up");
const names = positionals.length > 0 ? positionals : Object.keys(benchmarks);
for (const name of names) {
  if (benchmarks[name] === undefined) throw new Error(`unknown benchmark ${name}; known: ${Object.keys(benchmarks).join(", ")}`);
}
console.log(JSON.stringify({ machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, load: loadavg() }, settings }));
for (const name of names) {
  await (benchmarks[name] as (s: BenchSettings) => Promise<void>)(settings);
}
process.exit(0);
