// One node of a three-node JetStream cluster is killed with SIGKILL under load, with every saga
// stream (and so every durable consumer) replicated three times. The node killed leads the
// orders stream, so a new leader is elected while events are being published and consumed.
// Nothing is lost, nothing applied twice, every saga ends, and no order is refused.
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { streams } from "../../services/saga/topology.js";
import { startNatsCluster, type NatsCluster } from "../helpers/index.js";
import { startShop, type Shop } from "../saga/shop.js";
import { redeliveries } from "./broker-stats.js";

const SAGA_DEADLINE_MS = 60_000;

/** Retries `action` until it succeeds: a fresh cluster answers JetStream calls only once it has elected a meta leader. */
async function eventually<T>(what: string, action: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await action();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: still failing after ${timeoutMs} ms`, { cause: err });
      await sleep(250);
    }
  }
}

/** Checks that the services created each saga stream with three replicas, and waits until the followers are current. */
async function replicatedThreeTimes(jsm: JetStreamManager): Promise<void> {
  for (const spec of Object.values(streams)) {
    await eventually(`${spec.name} R3`, async () => {
      const { config, cluster } = await jsm.streams.info(spec.name);
      if (config.num_replicas !== 3) throw new Error(`${spec.name} has ${config.num_replicas} replica(s); NATS_STREAM_REPLICAS=3 asked for 3`);
      if ((cluster?.replicas ?? []).filter((replica) => replica.current).length < 2) throw new Error("followers not current yet");
    });
  }
}

/** The longest time after `since` in which no order reached CONFIRMED or CANCELLED, ms: how long the saga stood still. */
async function longestStall(ordersUrl: string, since: number): Promise<number> {
  const db = new pg.Client({ connectionString: ordersUrl });
  await db.connect();
  const ended = (await db.query("select (extract(epoch from updated_at) * 1000)::float8 as at from orders where status <> 'pending' order by updated_at")).rows as { at: number }[];
  await db.end();
  let previous = since;
  let longest = 0;
  for (const { at } of ended.filter((row) => row.at >= since)) {
    longest = Math.max(longest, at - previous);
    previous = at;
  }
  return Math.round(longest);
}

describe("a JetStream cluster node dies under load", () => {
  let cluster: NatsCluster;
  let shop: Shop;

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    const nc = await connect({ servers: cluster.servers });
    await eventually("JetStream ready", async () => (await jetstreamManager(nc)).getAccountInfo());
    await nc.close();
    const r3 = { NATS_STREAM_REPLICAS: "3" };
    shop = await startShop({
      name: "fault",
      logLevel: "fatal",
      natsUrls: cluster.servers,
      sagaDeadlineMs: SAGA_DEADLINE_MS,
      env: { orders: r3, inventory: r3, payments: { ...r3, PAYMENT_DECLINE_RATE: "0.2" } },
    });
    await shop.inventory.setStock({ sku: "MUG-1", name: "Mug", available: 10_000, unitPrice: { currencyCode: "EUR", amountMinor: 1250n } });
  }, 120_000);
  afterAll(async () => {
    await shop?.stop();
    await cluster?.dispose();
  }, 60_000);

  it("loses nothing when the leader of the orders stream is killed", async () => {
    const nc = await connect({ servers: cluster.servers });
    const jsm = await jetstreamManager(nc);
    await replicatedThreeTimes(jsm);
    const leader = (await jsm.streams.info(streams.orders.name)).cluster?.leader ?? "";
    const victim = cluster.nodes[Number(leader.slice(1)) - 1];
    if (victim === undefined) throw new Error(`no node named ${leader}`);

    const load = shop.placeOrders(300, 4);
    await sleep(1_500);
    const killedAt = Date.now();
    await victim.kill();
    const newLeader = await eventually("new orders stream leader", async () => {
      const current = (await jsm.streams.info(streams.orders.name)).cluster?.leader;
      if (current === undefined || current === leader) throw new Error("no new leader yet");
      return current;
    });
    const electedMs = Date.now() - killedAt;
    const placed = await load;
    const report = await shop.settle(90_000);
    const stalledMs = await longestStall(shop.databaseUrl("orders"), killedAt);
    const redelivered = { inventory: await redeliveries(cluster.servers, "inventory"), payments: await redeliveries(cluster.servers, "payments"), orders: await redeliveries(cluster.servers, "orders") };
    await nc.close();
    console.info(`cluster node kill: ${JSON.stringify({ placed, leader, newLeader, electedMs, stalledMs, redelivered, recoveryMs: Date.now() - killedAt, orders: report.orders, events: report.events })}`);

    expect(report.violations).toEqual([]);
    expect(report.orders.pending).toBe(0);
    expect(report.orders.total).toBe(placed.accepted);
    expect(placed.failed).toBe(0);
  }, 180_000);
});
