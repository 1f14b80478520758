// A handler slower than the ack wait: a payments child charges for 13 s inside its transaction
// (the saga consumers' ack wait is 10 s), and its "still working" heartbeats never reach the
// broker (a wire tap drops them, as a stalled event loop or a half-broken link would). The
// broker redelivers to the in-process replica while the child is still running the first
// delivery; the inbox's unique key lets exactly one of the two runs charge.
import { afterAll, describe, expect, it } from "vitest";
import { defaultDurableName } from "@protomesh/messaging";
import { consumerDefaults, streams } from "../../services/saga/topology.js";
import { useFaultShop } from "./fault-shop.js";
import { redeliveries } from "./broker-stats.js";
import { isNatsAck, startWireTap, type WireTap } from "./wire-tap.js";

const SAGA_DEADLINE_MS = 60_000;
const CHARGE_MS = consumerDefaults.ackWaitMs + 3_000;
const CHARGE_DURABLE = defaultDurableName("payments", "shop.inventory.v1.StockReserved");

describe("a handler runs longer than the ack wait", () => {
  let tap: WireTap;
  const fault = useFaultShop(async (nats) => {
    tap = await startWireTap(nats.port, "nats", (message) => (isNatsAck(message, streams.inventory.name, CHARGE_DURABLE, "+WPI") ? "drop" : "forward"));
    return { sagaDeadlineMs: SAGA_DEADLINE_MS, childEnv: { payments: { PAYMENT_LATENCY_MS: String(CHARGE_MS) } } };
  });
  // Registered after the shop's hooks, so the tap closes before the shop stops.
  afterAll(() => tap?.close());

  it("redelivers to another replica while the first run is still going, and charges once", async () => {
    const slow = await fault.shop.startChild("payments", { natsUrl: `nats://127.0.0.1:${tap.port}` });
    const startedAt = Date.now();
    const placed = await fault.shop.placeOrders(40, 4);
    const report = await fault.shop.settle(90_000);
    const heartbeatsDropped = tap.intercepted.length;
    // Deliveries beyond the first of each message: the ack timeouts of the slow runs.
    const redelivered = await redeliveries(fault.shop.nats.servers, "payments");
    const slowAlive = slow.process.child.exitCode === null;
    console.info(`handler slower than ack wait: ${JSON.stringify({ placed, chargeMs: CHARGE_MS, heartbeatsDropped, redelivered, slowAlive, settledMs: Date.now() - startedAt, orders: report.orders, events: report.events })}`);

    expect(heartbeatsDropped).toBeGreaterThan(0);
    expect(redelivered).toBeGreaterThan(0);
    expect(slowAlive).toBe(true);
    expect(report.violations).toEqual([]);
    expect(report.orders.pending).toBe(0);
    expect(report.orders.total).toBe(placed.accepted);
    expect(placed.failed).toBe(0);
  }, 180_000);
});
