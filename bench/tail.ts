// tail: 5 replicas; one answers 500 ms late through the middle half of the window. p99 and
// p99.9 for protomesh round-robin, protomesh P2C and grpc-js round_robin, and P2C with no fault.
// Anchor: protomesh round-robin.
import { startReplicas } from "./harness/replicas.js";
import { measure } from "./harness/measure.js";
import type { CallerSpec } from "./harness/callers.js";
import { printWithRatios, type Result } from "./harness/stats.js";
import type { BenchSettings } from "./settings.js";

export const slowDelayMs = 500;

export async function tail(settings: BenchSettings): Promise<void> {
  const replicas = await startReplicas(5);
  const seconds = Math.max(settings.seconds, 12);
  const timers: NodeJS.Timeout[] = [];
  try {
    const targets = replicas.targets;
    const variants: [string, CallerSpec, boolean][] = [
      ["p2c-no-fault", { kind: "protomesh", targets }, false],
      ["round-robin", { kind: "protomesh", targets, loadBalancing: "round-robin" }, true],
      ["p2c", { kind: "protomesh", targets }, true],
      ["grpc-js-round-robin", { kind: "grpc-js", targets, roundRobin: true }, true],
    ];
    const rows: Result[] = [];
    for (const [variant, caller, slow] of variants) {
      const onWindow = (): void => {
        if (!slow) return;
        timers.push(setTimeout(() => void replicas.mode({ delayMs: slowDelayMs }, 0), (seconds * 1000) / 4));
        timers.push(setTimeout(() => void replicas.mode({ delayMs: 0 }, 0), (seconds * 3000) / 4));
      };
      const row = await measure("tail", variant, replicas.servers, { caller, concurrency: settings.tailConcurrency, warmupS: settings.warmupS, seconds }, { onWindow });
      await replicas.mode({ delayMs: 0 });
      rows.push({ ...row, concurrency: settings.tailConcurrency, slowForS: slow ? seconds / 2 : 0 });
      console.error(`tail ${variant}: p99 ${row.p99Ms} ms, p99.9 ${row.p999Ms} ms`);
    }
    printWithRatios(rows, "round-robin", ["p99Ms", "p999Ms", "callsPerS"]);
    const base = rows.find((r) => r.variant === "p2c-no-fault");
    const p2c = rows.find((r) => r.variant === "p2c");
    if (base !== undefined && p2c !== undefined) {
      console.log(JSON.stringify({ bench: "tail", ratio: "p2c/p2c-no-fault p999Ms", value: Math.round((p2c.p999Ms / base.p999Ms) * 1000) / 1000 }));
    }
  } finally {
    timers.forEach(clearTimeout);
    await replicas.stop();
  }
}
