// The demo's closing report: what happened to the orders, how fast, what the saga did to make
// up for failures, and whether every invariant held.
import type { DemoResult } from "./run-demo.js";
import type { EventCounters } from "./event-counters.js";

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

const invariantNames: Record<string, string> = {
  I1: "no lost event",
  I2: "no phantom event",
  I3: "no duplicate effect",
  I4: "per-order event order",
  I5: "stock conserved",
  I6: "charged iff confirmed",
  I7: "every saga ended in time",
  I8: "dead letters accounted for",
};

export function printSummary(result: DemoResult): void {
  const { report, options } = result;
  const sorted = [...result.latenciesMs].sort((a, b) => a - b);
  const lines: string[] = [];
  const rule = "─".repeat(64);
  lines.push("", rule, ` protomesh demo: ${options.orders} orders, ${result.replicasPerService} replica(s) per service, ${result.databaseKind}, NATS ${result.natsOrigin}, cache: ${result.cache === "redis" ? "redis" : "off (no REDIS_URL)"}${options.chaos ? ", chaos on" : ""}`, rule);
  lines.push(` orders        ${report.orders.confirmed} confirmed, ${report.orders.cancelled} cancelled, ${report.orders.pending} pending (stored: ${report.orders.total})`);
  for (const [outcome, count] of Object.entries(result.outcomes).sort((a, b) => b[1] - a[1])) lines.push(`                ${String(count).padStart(5)}  ${outcome}`);
  if (result.unfinished > 0) lines.push(`                ${String(result.unfinished).padStart(5)}  not seen terminal by the driver`);
  lines.push(` latency       place → terminal: p50 ${percentile(sorted, 50)} ms, p90 ${percentile(sorted, 90)} ms, p99 ${percentile(sorted, 99)} ms, max ${sorted.at(-1) ?? 0} ms`);
  lines.push(` compensations ${report.compensations.stockReleased} reservations released, ${report.compensations.paymentsRefunded} payments refunded`);
  lines.push(
    ` events        ${report.events.published} published, ${report.events.unpublished} unpublished, ${report.events.consumed} applied by consumers, ${report.events.deadLettered} dead letters, ${report.events.reorderedDeliveries} applied out of order`,
  );
  if (result.eventCounters !== undefined) lines.push(` deduplication ${deduplication(result, result.eventCounters)}`);
  if (options.chaos) lines.push(` chaos         ${result.chaosKills.length} replicas killed (kill -9) and restarted: ${result.chaosKills.join(", ") || "none"}`);
  lines.push(` retries       ${result.createRetries} CreateOrder calls repeated by the driver with the same idempotency key`);
  const totalCalls = result.ordersShare.reduce((sum, endpoint) => sum + endpoint.calls, 0);
  lines.push(
    ` balancing     orders replicas' share of the driver's calls: ${result.ordersShare.map((e) => `${e.address} ${totalCalls === 0 ? 0 : Math.round((100 * e.calls) / totalCalls)} %`).join(", ")}`,
  );
  lines.push(` invariants`);
  const failed = new Set(report.violations.map((v) => v.invariant));
  for (const [id, name] of Object.entries(invariantNames)) lines.push(`   ${failed.has(id as never) ? "✗" : "✓"} ${id} ${name}`);
  for (const violation of report.violations) lines.push(`     ${violation.invariant}: ${violation.message}`);
  lines.push(` took          ${(result.wallMs / 1000).toFixed(1)} s; driving the ${result.options.orders} orders ${(result.drivingMs / 1000).toFixed(1)} s`, rule);
  lines.push(report.violations.length === 0 && result.unfinished === 0 ? " result: every order terminal, no invariant broken" : " result: FAILED", "");
  console.log(lines.join("\n"));
}

/**
 * The replicas' counters next to the stored events. Only when no process was lost are the
 * counts complete, and only then is "publishes minus events" the number of repeated publishes.
 */
function deduplication(result: DemoResult, counters: EventCounters): string {
  const events = result.report.events.published;
  const counts = `${counters.redeliveries} redeliveries (the inboxes apply each event once per consumer: I3), ${counters.deadLetters} dead letters`;
  const complete = result.chaosKills.length === 0 && counters.unreachable.length === 0;
  if (complete) {
    return `${counters.published} publishes for ${events} events (${Math.max(0, counters.published - events)} repeated, deduplicated by event id), ${counts}`;
  }
  const lost = result.chaosKills.length === 0 ? "" : `; the ${result.chaosKills.length} killed processes took their counts with them`;
  return `${counters.published} publishes, ${counts}, from the ${counters.scraped} replicas alive at the end${lost}`;
}
