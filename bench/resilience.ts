// breaker: latency of calls while the circuit is open (one replica failing every call with
// Unavailable; retries off), against the same calls with no breaker. Anchor: no breaker.
// retry: attempts per call during a total outage (GetOrder, breaker off), with the default
// retry budget and with the budget out of reach. Anchor: no budget.
import { startReplicas } from "./harness/replicas.js";
import { measure } from "./harness/measure.js";
import type { CallerSpec } from "./harness/callers.js";
import { printWithRatios, round, type Result } from "./harness/stats.js";
import type { BenchSettings } from "./settings.js";

async function outage(bench: string, settings: BenchSettings, variants: (targets: string[]) => [string, CallerSpec][], anchor: string, fields: (keyof Result)[]): Promise<void> {
  const replicas = await startReplicas(1);
  try {
    await replicas.mode({ fail: true });
    const rows: Result[] = [];
    for (const [variant, caller] of variants(replicas.targets)) {
      const row = await measure(bench, variant, replicas.servers, { caller, method: "get", concurrency: settings.concurrency, warmupS: settings.warmupS, seconds: settings.seconds });
      const attemptsPerCall = row.errors === 0 ? null : round(row.served / row.errors, 3);
      rows.push({ ...row, attemptsPerCall });
      console.error(`${bench} ${variant}: p99 ${row.p99Ms} ms, ${attemptsPerCall} attempts per call`);
    }
    printWithRatios(rows, anchor, fields);
  } finally {
    await replicas.stop();
  }
}

export async function breaker(settings: BenchSettings): Promise<void> {
  await outage(
    "breaker",
    settings,
    (targets) => [
      ["no-breaker", { kind: "protomesh", targets, retry: false, circuitBreaker: false }],
      ["breaker-open", { kind: "protomesh", targets, retry: false }],
    ],
    "no-breaker",
    ["p50Ms", "p99Ms", "p999Ms"],
  );
}

export async function retry(settings: BenchSettings): Promise<void> {
  await outage(
    "retry",
    settings,
    (targets) => [
      ["no-budget", { kind: "protomesh", targets, circuitBreaker: false, unlimitedBudget: true }],
      ["budget", { kind: "protomesh", targets, circuitBreaker: false }],
    ],
    "no-budget",
    ["attemptsPerCall", "p99Ms"],
  );
}
