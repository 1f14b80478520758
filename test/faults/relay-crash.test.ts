// The only payments replica, a child process, is killed with SIGKILL right after the broker
// acknowledged an event its outbox relay published and before the relay marked the row: a
// wire tap holds the PubAck on its way back and kills the child there. The claimed rows stay
// unpublished in the outbox until their lease ends; a new replica's relay publishes them again.
// Within the stream's duplicate window the broker drops the second copy; when the relay stays
// down longer than the window, the stream stores it twice and the consumers' inboxes absorb it.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, nanos } from "@nats-io/transport-node";
import pg from "pg";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { streams } from "../../services/saga/topology.js";
import type { ChildReplica } from "../saga/shop.js";
import { useFaultShop } from "./fault-shop.js";
import { redeliveries } from "./broker-stats.js";
import { isPubAck, startWireTap, type WireTap } from "./wire-tap.js";

const SAGA_DEADLINE_MS = 60_000;

describe("an outbox relay is killed between the broker's ack and marking the row", () => {
  let tap: WireTap;
  let victim: ChildReplica | undefined = undefined;
  let pubAcksCut = 0;

  /** Runs orders through a tapped payments child until the tap kills it; returns what the relay left behind. */
  async function killRelayMidPublish() {
    const child = await fault.shop.startChild("payments", { natsUrl: `nats://127.0.0.1:${tap.port}` });
    victim = child;
    const load = fault.shop.placeOrders(60, 4);
    const timedOut = await Promise.race([child.process.exited.then(() => false), sleep(30_000).then(() => true)]);
    if (timedOut) throw new Error("the payments relay published nothing within 30 s");
    const killedAt = Date.now();
    victim = undefined;
    const stranded = await paymentsQuery<{ id: string }>("select id::text from outbox where published_at is null and claimed_by like $1", [`%-${child.pid}-%`]);
    return { load, killedAt, stranded: stranded.map((row) => row.id) };
  }

  async function paymentsQuery<T>(text: string, values: unknown[] = []): Promise<T[]> {
    const db = new pg.Client({ connectionString: fault.shop.databaseUrl("payments") });
    await db.connect();
    try {
      return (await db.query(text, values)).rows as T[];
    } finally {
      await db.end();
    }
  }

  /** Messages the payments stream stored minus rows the payments outbox holds: copies stored twice. */
  async function storedTwice(): Promise<number> {
    const nc = await connect({ servers: fault.shop.nats.servers });
    const stored = (await (await jetstreamManager(nc)).streams.info(streams.payments.name)).state.messages;
    await nc.close();
    const [{ rows } = { rows: 0 }] = await paymentsQuery<{ rows: number }>("select count(*)::int as rows from outbox");
    return stored - rows;
  }

  const fault = useFaultShop(async (nats) => {
    tap = await startWireTap(nats.port, "nats", (message) => {
      if (victim === undefined || !isPubAck(message, streams.payments.name)) return "forward";
      pubAcksCut++;
      victim.signal("SIGKILL");
      return "cut";
    });
    // Payments runs only as child replicas here, so killing one takes its relay down entirely.
    return { replicas: { orders: 1, inventory: 1, payments: 0 }, sagaDeadlineMs: SAGA_DEADLINE_MS };
  });
  // Registered after the shop's hooks, so the tap closes before the shop stops.
  afterAll(() => tap?.close());

  it("within the duplicate window: the broker drops the republished copy", async () => {
    const redeliveredBefore = await redeliveries(fault.shop.nats.servers, "payments");
    const { load, killedAt, stranded } = await killRelayMidPublish();
    const successor = await fault.shop.startChild("payments");
    const placed = await load;
    const report = await fault.shop.settle(90_000);
    const republished = await paymentsQuery<{ id: string; after_kill_ms: number }>(
      "select id::text, (extract(epoch from published_at) * 1000 - $2)::int as after_kill_ms from outbox where id = any($1::bigint[])",
      [stranded, killedAt],
    );
    const twice = await storedTwice();
    const redelivered = (await redeliveries(fault.shop.nats.servers, "payments")) - redeliveredBefore;
    console.info(`relay kill -9 after PubAck: ${JSON.stringify({ placed, pubAcksCut, stranded: stranded.length, republished, storedTwice: twice, redelivered, recoveryMs: Date.now() - killedAt, orders: report.orders, events: report.events })}`);
    await successor.stop();

    expect(stranded.length).toBeGreaterThan(0);
    // Published again by the successor once the dead relay's lease ran out, and stored once.
    expect(republished.every((row) => row.after_kill_ms > 0)).toBe(true);
    expect(twice).toBe(0);
    expect(report.violations).toEqual([]);
    expect(report.orders.pending).toBe(0);
    expect(report.orders.total).toBe(placed.accepted);
  }, 180_000);

  it("down longer than the duplicate window: the stream stores a second copy and the inboxes absorb it", async () => {
    const totalBefore = (await fault.shop.check()).orders.total;
    const twiceBefore = await storedTwice();
    const { load, killedAt, stranded } = await killRelayMidPublish();
    // The successor sets the stream up as the topology declares it (a 2 min window) when it
    // starts, so the window is shrunk to 1 s after that. Until then the dead relay's claim is
    // held (its lease extended), so the republish comes after the shrink however slow the start.
    await paymentsQuery("update outbox set claimed_until = now() + interval '5 minutes' where id = any($1::bigint[])", [stranded]);
    await fault.shop.startChild("payments");
    const nc = await connect({ servers: fault.shop.nats.servers });
    await (await jetstreamManager(nc)).streams.update(streams.payments.name, { subjects: streams.payments.subjects, duplicate_window: nanos(1_000) });
    await nc.close();
    const shrunkAt = Date.now();
    // Relay down for longer than the window: the lease ends, the successor republishes.
    await sleep(1_500);
    await paymentsQuery("update outbox set claimed_until = now() where id = any($1::bigint[])", [stranded]);
    const placed = await load;
    const report = await fault.shop.settle(90_000);
    const twice = (await storedTwice()) - twiceBefore;
    const republished = await paymentsQuery<{ after_shrink_ms: number }>(
      "select (extract(epoch from published_at) * 1000 - $2)::int as after_shrink_ms from outbox where id = any($1::bigint[])",
      [stranded, shrunkAt],
    );
    console.info(`relay down past the duplicate window: ${JSON.stringify({ placed, stranded: stranded.length, republished, storedTwice: twice, recoveryMs: Date.now() - killedAt, orders: report.orders, events: report.events })}`);

    expect(stranded.length).toBeGreaterThan(0);
    expect(republished.every((row) => row.after_shrink_ms > 0)).toBe(true);
    // At least the event whose PubAck was held went to the stream twice.
    expect(twice).toBeGreaterThan(0);
    expect(twice).toBeLessThanOrEqual(stranded.length);
    expect(report.violations).toEqual([]);
    expect(report.orders.pending).toBe(0);
    expect(report.orders.total - totalBefore).toBe(placed.accepted);
  }, 180_000);
});
