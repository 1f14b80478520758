// npm run soak -- --minutes N: the shop under a random fault schedule for N minutes (default
// 10), then the invariant checker's report and every process's memory. Exits 1 when anything
// was lost, duplicated or left pending, or a process's memory kept growing. Needs only the
// nats-server and PostgreSQL binaries: every server and replica it runs is private to it.
import { parseArgs } from "node:util";
import { boundedNumber } from "../demo/cli.js";
import { runSoak } from "../test/faults/soak.js";

const usage = "usage: npm run soak -- [--minutes N] [--replicas N] [--rate ORDERS_PER_SECOND]";
const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    replicas: { type: "string", default: "2" },
    rate: { type: "string", default: "10" },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const number = (name: string, value: string, min: number, max: number) => {
  try {
    return boundedNumber(name, value, min, max);
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
};
const minutes = number("minutes", values.minutes, 0.25, 24 * 60);
const replicas = number("replicas", values.replicas, 1, 4);
const ordersPerSecond = number("rate", values.rate, 1, 200);

console.log(`soak: ${minutes} min of faults, ${replicas} replicas per service, ${ordersPerSecond} orders/s`);
const result = await runSoak({ durationMs: minutes * 60_000, replicas, ordersPerSecond, log: (line) => console.log(line) });
const { report } = result;
console.log(`\norders: ${JSON.stringify(result.orders)}`);
const byKind = new Map<string, number>();
for (const fault of result.faults) byKind.set(fault.kind, (byKind.get(fault.kind) ?? 0) + 1);
console.log(`faults: ${result.faults.length} (${[...byKind].map(([kind, n]) => `${kind} ${n}`).join(", ")})`);
console.log(`settled in ${result.settledMs} ms after the load stopped`);
console.log(`checker: ${JSON.stringify({ orders: report.orders, events: report.events, compensations: report.compensations })}`);
console.log(`violations: ${report.violations.length === 0 ? "none" : ""}`);
for (const violation of report.violations) console.log(`  ${violation.invariant} ${violation.message}`);
console.log("memory (RSS, median of the first and last third of the samples):");
for (const m of result.memory) console.log(`  ${m.process.padEnd(36)} ${String(m.firstThirdMb).padStart(5)} MB -> ${String(m.lastThirdMb).padStart(5)} MB  x${m.growth}  (${m.samples} samples)`);
console.log(result.passed ? "\nsoak passed" : `\nsoak FAILED:\n${result.problems.map((p) => `  ${p}`).join("\n")}`);
process.exit(result.passed ? 0 : 1);
