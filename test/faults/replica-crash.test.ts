// A payments replica in a child process is killed with SIGKILL while orders keep coming. The
// surviving replica takes over its unacked deliveries; the inbox keeps a delivery handled twice
// (committed before the crash but never acked) to one effect.
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { ackPending, redeliveries } from "./broker-stats.js";
import { useFaultShop } from "./fault-shop.js";

// Above the ack wait (JetStream's 30 s at most), so deliveries stranded in a dead or frozen replica come back in time.
const SAGA_DEADLINE_MS = 60_000;

/** Waits until payments has at least `count` deliveries unacked: the slow child holds most of them. */
async function deliveriesInFlight(natsUrl: string, count: number): Promise<number> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const pending = await ackPending([natsUrl], "payments");
    if (pending >= count) return pending;
    if (Date.now() > deadline) throw new Error(`payments never had ${count} deliveries in flight (last ${pending})`);
    await sleep(20);
  }
}

describe("a payments replica crashes under load", () => {
  const fault = useFaultShop(() => ({
    sagaDeadlineMs: SAGA_DEADLINE_MS,
    env: { payments: { PAYMENT_LATENCY_MS: "25", PAYMENT_DECLINE_RATE: "0.2" } },
    // The child replicas charge slowly (inside the transaction), so each holds deliveries in
    // flight at the moment of the fault.
    childEnv: { payments: { PAYMENT_LATENCY_MS: "300" } },
  }));

  it("loses nothing and applies nothing twice after kill -9", async () => {
    const redeliveredBefore = await redeliveries([fault.nats.url], "payments");
    const victim = await fault.shop.startChild("payments");
    const load = fault.shop.placeOrders(200);
    const inFlight = await deliveriesInFlight(fault.nats.url, 6);
    victim.signal("SIGKILL");
    await victim.process.exited;
    const killedAt = Date.now();
    const placed = await load;
    const report = await fault.shop.settle(90_000);
    const redelivered = (await redeliveries([fault.nats.url], "payments")) - redeliveredBefore;
    console.info(`kill -9: ${JSON.stringify({ placed, inFlight, redelivered, recoveryMs: Date.now() - killedAt, orders: report.orders, events: report.events })}`);
    // The kill stranded deliveries, which came back to the surviving replica.
    expect(redelivered).toBeGreaterThan(0);
    expect(report.violations).toEqual([]);
    expect(report.orders.pending).toBe(0);
    expect(report.orders.total).toBe(placed.accepted);
    expect(placed.failed).toBe(0);
  }, 180_000);
});
