// The private PostgreSQL that holds all three services' databases is restarted (fast shutdown,
// then start) while orders keep coming. Calls during the outage are refused with a retryable
// code, never half-applied; afterwards every accepted order ends, nothing is lost or applied
// twice, and new orders are accepted again.
import { Code, ConnectError } from "@connectrpc/connect";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, startPostgresServer, type NatsServer, type PostgresServer } from "../helpers/index.js";
import { startShop, type Shop } from "../saga/shop.js";
import { redeliveries } from "./broker-stats.js";

const SAGA_DEADLINE_MS = 60_000;

describe("PostgreSQL restarts under load", () => {
  let nats: NatsServer;
  let postgres: PostgresServer;
  let shop: Shop;

  beforeAll(async () => {
    nats = await startNatsServer();
    postgres = await startPostgresServer();
    shop = await startShop({ name: "fault", logLevel: "fatal", natsUrls: [nats.url], postgresUrl: postgres.url, sagaDeadlineMs: SAGA_DEADLINE_MS, env: { payments: { PAYMENT_DECLINE_RATE: "0.2" } } });
    await shop.inventory.setStock({ sku: "MUG-1", name: "Mug", available: 10_000, unitPrice: { currencyCode: "EUR", amountMinor: 1250n } });
  }, 90_000);
  afterAll(async () => {
    await shop?.stop();
    await postgres?.dispose();
    await nats?.dispose();
  }, 90_000);

  it("ends every accepted saga and accepts orders again", async () => {
    const load = shop.placeOrders(300, 4);
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
        await shop.orders.createOrder({ userId: "after-restart", items: [{ sku: "MUG-1", quantity: 1 }], idempotencyKey: `after-${randomUUID()}`, currencyCode: "EUR" });
        acceptedAfter++;
      } catch (err) {
        refusedAfter.push(Code[ConnectError.from(err).code]);
      }
    }
    const report = await shop.settle(90_000);
    const redelivered = { inventory: await redeliveries([nats.url], "inventory"), payments: await redeliveries([nats.url], "payments"), orders: await redeliveries([nats.url], "orders") };
    console.info(`postgres restart: ${JSON.stringify({ placed, downMs, acceptedAfter, refusedAfter, redelivered, recoveryMs: Date.now() - stoppedAt, orders: report.orders, events: report.events })}`);

    expect(report.violations).toEqual([]);
    expect(report.orders.pending).toBe(0);
    expect(report.orders.total).toBe(placed.accepted + acceptedAfter);
    // Refusals during the outage say "try again", never "internal error".
    expect(Object.keys(placed.failedBy).filter((code) => code !== "Unavailable")).toEqual([]);
    expect(acceptedAfter).toBe(20);
  }, 180_000);
});
