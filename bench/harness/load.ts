// The load generator, a process of its own: `concurrency` loops call one client back to back.
// After the warm-up it sends "measuring" (the parent samples the servers then), records every
// latency and the process CPU over the window, and replies with the figures.
import { monotonicNow } from "./stats.js";
import { serveParent } from "./children.js";
import { createCaller, type CallerSpec } from "./callers.js";

export interface LoadSpec {
  caller: CallerSpec;
  method?: "create" | "get";
  concurrency: number;
  warmupS: number;
  seconds: number;
}

export interface LoadReport {
  calls: number;
  errors: number;
  /** Error codes (or names) seen in the window, with counts. */
  errorKinds: Record<string, number>;
  seconds: number;
  clientCpuUs: number;
  /** Every call's latency in ms, in the order they finished. */
  latenciesMs: number[];
}

const spec = JSON.parse(process.argv[2] ?? "{}") as LoadSpec;
const caller = createCaller(spec.caller, spec.method);

async function run(): Promise<LoadReport> {
  let recording = false;
  let latencies = new Float64Array(1 << 20);
  let count = 0;
  let errors = 0;
  const errorKinds: Record<string, number> = {};
  let running = true;
  const loops = Array.from({ length: spec.concurrency }, async () => {
    while (running) {
      const started = monotonicNow();
      let failed: unknown;
      try {
        await caller.call();
      } catch (error) {
        failed = error;
      }
      const ended = monotonicNow();
      // A call refused without I/O (an open circuit) settles in a microtask: yield, or the
      // loops starve the timers that end the warm-up and the window.
      if (failed !== undefined) await new Promise(setImmediate);
      if (!recording) continue;
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count++] = ended - started;
      if (failed !== undefined) {
        errors++;
        const e = failed as { code?: unknown; name?: string };
        const key = `${e.name ?? "Error"}:${String(e.code)}`;
        errorKinds[key] = (errorKinds[key] ?? 0) + 1;
      }
    }
  });
  await new Promise((resolve) => setTimeout(resolve, spec.warmupS * 1000));
  process.send?.({ type: "measuring" });
  recording = true;
  const cpu = process.cpuUsage();
  const started = monotonicNow();
  await new Promise((resolve) => setTimeout(resolve, spec.seconds * 1000));
  recording = false;
  const used = process.cpuUsage(cpu);
  const seconds = (monotonicNow() - started) / 1000;
  running = false;
  await Promise.all(loops);
  caller.close();
  return { calls: count, errors, errorKinds, seconds, clientCpuUs: used.user + used.system, latenciesMs: Array.from(latencies.subarray(0, count)) };
}

serveParent(async () => ({ ...(await run()) }));
process.send?.({ type: "ready" });
