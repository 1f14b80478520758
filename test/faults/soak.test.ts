// The soak's short form for `npm test`: 35 s of random faults over compiled replicas, then
// the checker and the memory check. `npm run soak -- --minutes N` is the long form.
import { describe, expect, it } from "vitest";
import { requireBuild } from "../helpers/index.js";
import { runSoak } from "./soak.js";

describe("soak, short form", () => {
  it("loses nothing, duplicates nothing, ends every saga, and no process's memory keeps growing", async () => {
    requireBuild();
    const lines: string[] = [];
    const result = await runSoak({ durationMs: 35_000, replicas: 2, ordersPerSecond: 8, quietMs: [3_000, 6_000], log: (line) => lines.push(line) });
    console.info(`soak: ${JSON.stringify({ orders: result.orders, faults: result.faults, settledMs: result.settledMs, report: { orders: result.report.orders, events: result.report.events }, memory: result.memory })}`);
    expect(result.faults.length).toBeGreaterThan(0);
    expect(result.problems).toEqual([]);
    expect(result.report.orders.pending).toBe(0);
    expect(result.passed).toBe(true);
  }, 300_000);
});
