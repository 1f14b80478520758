// The private PostgreSQL that holds all three services' databases is restarted (fast shutdown,
// then start) while orders keep coming. Calls during the outage are refused with a retryable
// code, never half-applied; afterwards every accepted order ends, nothing is lost or applied
// twice, and new orders are accepted again.
import { Code, ConnectError } from "@connectrpc/connect";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgresServer, type PostgresServer } from "../helpers/index.js";
import { useFaultShop } from "./fault-shop.js";
import { redeliveries } from "./broker-stats.js";

const SAGA_DEADLINE_MS = 60_000;

describe("PostgreSQL restarts under load", () => {
  let postgres: PostgresServer;
  // Registered before the shop's hooks: the server starts before the shop and stops after it.
  beforeAll(async () => {
    postgres = await startPostgresServer();
  }, 60_000);
  afterAll(() => postgres?.dispose(), 60_000);
  const fault = useFaultShop(() => ({ postgresUrl: postgres.url, sagaDeadlineMs: SAGA_DEADLINE_MS }));

  it("ends every accepted saga and accepts orders again", async () => {
    const load = fault.shop.placeOrders(300, 4);
    await sleep(1_500);
    const stoppedAt = Date.now();
    await postgres.restart();
    const downMs = Date.now() - stoppedAt;
    const placed = await load;

    // Right after recovery, calls succeed again (pools replace their dropped connections).
    let acceptedAfter = 0;
    const refusedAfter: string[] = [];
    for (let i = 0; i < 20; i++) {
      try {
        await fault.shop.orders.createOrder({ userId: "after-restart", items: [{ sku: "MUG-1", quantity: 1 }], idempotencyKey: `after-${randomUUID()}`, currencyCode: "EUR" });
        acceptedAfter++;
      } catch (err) {
        refusedAfter.push(Code[ConnectError.from(err).code]);
      }
    }
    const report = await fault.shop.settle(90_000);
    const redelivered = { inventory: await redeliveries([fault.nats.url], "inventory"), payments: await redeliveries([fault.nats.url], "payments"), orders: await redeliveries([fault.nats.url], "orders") };
    console.info(`postgres restart: ${JSON.stringify({ placed, downMs, acceptedAfter, refusedAfter, redelivered, recoveryMs: Date.now() - stoppedAt, orders: report.orders, events: report.events })}`);

    expect(report.violations).toEqual([]);
    expect(report.orders.pending).toBe(0);
    expect(report.orders.total).toBe(placed.accepted + acceptedAfter);
    // Refusals during the outage say "try again", never "internal error".
    expect(Object.keys(placed.failedBy).filter((code) => code !== "Unavailable")).toEqual([]);
    expect(acceptedAfter).toBe(20);
  }, 180_000);
});
