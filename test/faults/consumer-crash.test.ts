// A payments replica in a child process is killed with SIGKILL at an exact step of handling a
// StockReserved event: right after its transaction committed but before the broker got the
// ack, and right before COMMIT reached PostgreSQL. The child talks to the broker and the
// database through wire taps that hold the step's message and kill the child there. In both
// cases the broker redelivers to the surviving replica and the charge happens exactly once.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { defaultDurableName, EventHeaders } from "@protomesh/messaging";
import { streams } from "../../services/saga/topology.js";
import type { ChildOptions, ChildReplica } from "../saga/shop.js";
import { useFaultShop } from "./fault-shop.js";
import { redeliveries, untilAllAcked } from "./broker-stats.js";
import { isCommit, isNatsAck, startWireTap, type TapMessage, type WireTap } from "./wire-tap.js";

const SAGA_DEADLINE_MS = 60_000;
const CHARGE_DURABLE = defaultDurableName("payments", "shop.inventory.v1.StockReserved");

/** Waits until `child` has exited (the tap killed it), or fails after `timeoutMs`. */
async function killedWithin(child: ChildReplica, timeoutMs: number): Promise<void> {
  const timedOut = await Promise.race([child.process.exited.then(() => false), sleep(timeoutMs).then(() => true)]);
  if (timedOut) throw new Error(`the tap never saw the step it waits for within ${timeoutMs} ms`);
}

describe("a payments replica is killed at its commit", () => {
  const taps: WireTap[] = [];
  const fault = useFaultShop(() => ({ sagaDeadlineMs: SAGA_DEADLINE_MS }));
  // Registered after the shop's hooks, so the taps close before the shop stops.
  afterAll(() => Promise.all(taps.map((tap) => tap.close())));

  /**
   * Starts a payments replica through a tap (`arm` hands it to the tap, which kills it at its
   * step), places 60 orders, and waits for the kill, for every saga to end and for the broker
   * to hold no unacked delivery; returns the broker's redeliveries of payments meanwhile.
   */
  async function killUnderLoad(childOptions: ChildOptions, arm: (victim: ChildReplica) => void) {
    const redeliveredBefore = await redeliveries(fault.shop.nats.servers, "payments");
    const child = await fault.shop.startChild("payments", childOptions);
    arm(child);
    const load = fault.shop.placeOrders(60, 4);
    await killedWithin(child, 30_000);
    const killedAt = Date.now();
    const placed = await load;
    const report = await fault.shop.settle(90_000);
    await untilAllAcked(fault.shop.nats.servers, "payments", 60_000);
    const redelivered = (await redeliveries(fault.shop.nats.servers, "payments")) - redeliveredBefore;
    return { placed, report, redelivered, killedAt };
  }

  it("after the commit and before the ack: the redelivery finds the inbox record and changes nothing", async () => {
    let victim: ChildReplica | undefined = undefined;
    let cutAck: TapMessage | undefined;
    const tap = await startWireTap(fault.nats.port, "nats", (message) => {
      if (victim === undefined || cutAck !== undefined || !isNatsAck(message, streams.inventory.name, CHARGE_DURABLE)) return "forward";
      cutAck = message;
      victim.signal("SIGKILL");
      return "cut";
    });
    taps.push(tap);
    const { placed, report, redelivered, killedAt } = await killUnderLoad({ natsUrl: `nats://127.0.0.1:${tap.port}` }, (child) => (victim = child));

    // The held ack names the delivery: $JS.ACK.<stream>.<durable>.<delivered>.<stream seq>.…
    const streamSequence = Number(cutAck?.bytes.toString("latin1").split(" ")[1]?.split(".")[5]);
    const nc = await connect({ servers: fault.shop.nats.servers });
    const stored = await (await jetstreamManager(nc)).streams.getMessage(streams.inventory.name, { seq: streamSequence });
    await nc.close();
    const eventId = stored?.header.get(EventHeaders.eventId);
    const orderId = stored?.header.get(EventHeaders.aggregateId);
    const db = new pg.Client({ connectionString: fault.shop.databaseUrl("payments") });
    await db.connect();
    const inbox = (await db.query("select processed_at from inbox where consumer = $1 and event_id = $2", [CHARGE_DURABLE, eventId])).rows as { processed_at: Date }[];
    const ledger = (await db.query("select kind from ledger_entries where order_id = $1", [orderId])).rows;
    await db.end();
    console.info(`kill after commit: ${JSON.stringify({ placed, streamSequence, eventId, redelivered, recoveryMs: Date.now() - killedAt, orders: report.orders, events: report.events })}`);

    // The victim had committed the charge before it died...
    expect(inbox).toHaveLength(1);
    expect(new Date(inbox[0]?.processed_at ?? 0).getTime()).toBeLessThanOrEqual(killedAt);
    // ...the broker never got the ack, so it redelivered, and the rerun left one effect.
    expect(redelivered).toBeGreaterThan(0);
    expect(ledger.length).toBeLessThanOrEqual(1);
    expect(report.violations).toEqual([]);
    expect(report.orders.pending).toBe(0);
    // Every accepted order is stored; CreateOrder never reaches payments, so a refusal here is
    // the busy machine (one Unavailable in one run), not the fault, and is not asserted.
    expect(report.orders.total).toBe(placed.accepted);
  }, 180_000);

  it("before the commit: the rolled-back charge is made once by the replica that gets the redelivery", async () => {
    const totalBefore = (await fault.shop.check()).orders.total;
    let victim: ChildReplica | undefined = undefined;
    let cutCommits = 0;
    const databasePort = Number(new URL(fault.shop.databaseUrl("payments")).port);
    const tap = await startWireTap(databasePort, "postgres", (message) => {
      if (victim === undefined || !isCommit(message)) return "forward";
      cutCommits++;
      victim.signal("SIGKILL");
      return "cut";
    });
    taps.push(tap);
    const tapped = new URL(fault.shop.databaseUrl("payments"));
    tapped.port = String(tap.port);
    const { placed, report, redelivered, killedAt } = await killUnderLoad({ databaseUrl: tapped.toString() }, (child) => (victim = child));
    console.info(`kill before commit: ${JSON.stringify({ placed, cutCommits, redelivered, recoveryMs: Date.now() - killedAt, orders: report.orders, events: report.events })}`);

    expect(cutCommits).toBeGreaterThan(0);
    expect(redelivered).toBeGreaterThan(0);
    expect(report.violations).toEqual([]);
    expect(report.orders.pending).toBe(0);
    expect(report.orders.total - totalBefore).toBe(placed.accepted);
  }, 180_000);
});
