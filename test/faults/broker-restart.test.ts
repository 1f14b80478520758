// The private, file-storage nats-server restarts while orders keep coming, and a poison event
// (an OrderPlaced whose payload does not decode) arrives meanwhile. The relays republish what
// the broker never acknowledged, the consumers reconnect, every saga ends, and the poison event
// is in inventory's dead-letter table instead of blocking or vanishing.
import { jetstream } from "@nats-io/jetstream";
import { connect, headers } from "@nats-io/transport-node";
import { sql } from "drizzle-orm";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { EventHeaders } from "@protomesh/messaging";
import { databaseOf } from "../services/rpc-helpers.js";
import { redeliveries } from "./broker-stats.js";
import { useFaultShop } from "./fault-shop.js";

const SAGA_DEADLINE_MS = 30_000;

describe("nats-server restarts under load", () => {
  const fault = useFaultShop(() => ({ sagaDeadlineMs: SAGA_DEADLINE_MS }));

  it("ends every saga, and dead-letters a poison event while the others complete", async () => {
    const load = fault.shop.placeOrders(300, 4);
    await sleep(1_000);

    const poisonId = `poison-${Date.now()}`;
    const nc = await connect({ servers: fault.nats.url });
    const poisonHeaders = headers();
    poisonHeaders.set(EventHeaders.eventType, OrderPlacedSchema.typeName);
    poisonHeaders.set(EventHeaders.eventId, poisonId);
    await jetstream(nc).publish(OrderPlacedSchema.typeName, new Uint8Array([0xff, 0xff, 0xff, 0x0f]), { msgID: poisonId, headers: poisonHeaders });
    await nc.close();

    const stoppedAt = Date.now();
    await fault.nats.restart();
    const downMs = Date.now() - stoppedAt;
    const placed = await load;
    const report = await fault.shop.settle(90_000);
    const redelivered = { inventory: await redeliveries([fault.nats.url], "inventory"), payments: await redeliveries([fault.nats.url], "payments"), orders: await redeliveries([fault.nats.url], "orders") };
    const dead = (await databaseOf(fault.shop.replicas.inventory[0]!).execute(sql`select event_id, reason, deliveries from dead_letters`)).rows;
    console.info(`nats restart: ${JSON.stringify({ placed, downMs, recoveryMs: Date.now() - stoppedAt, redelivered, dead, orders: report.orders, events: report.events })}`);

    expect(report.violations).toEqual([]);
    expect(report.orders.pending).toBe(0);
    expect(report.orders.total).toBe(placed.accepted);
    // Orders are accepted without the broker (the outbox holds the events).
    expect(placed.failed).toBe(0);
    expect(dead).toEqual([expect.objectContaining({ event_id: poisonId })]);
  }, 180_000);
});
