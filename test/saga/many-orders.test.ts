// Many orders across two replicas of every service, with a fifth of payments declined and a
// scarce SKU: every order must end CONFIRMED or CANCELLED and the checker must find nothing.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { OrdersService, OrderStatus } from "protomesh/gen/shop/orders/v1/orders_pb";
import { startShop, type Shop } from "./shop.js";

const ORDERS = Number(process.env.PROTOMESH_SAGA_ORDERS ?? 1000);
/** How long one order's caller retries "unavailable" before the test fails. */
const RETRY_BUDGET_MS = 60_000;

describe(`${ORDERS} orders across two replicas of each service`, () => {
  let shop: Shop;

  beforeAll(async () => {
    shop = await startShop({ replicas: 2, sagaDeadlineMs: 60_000, env: { payments: { PAYMENT_DECLINE_RATE: "0.2" } } });
    await shop.inventory.setStock({ sku: "MUG-1", name: "Mug", available: ORDERS * 2, unitPrice: { currencyCode: "EUR", amountMinor: 1250n } });
    await shop.inventory.setStock({ sku: "LAMP-1", name: "Lamp", available: Math.round(ORDERS / 20), unitPrice: { currencyCode: "EUR", amountMinor: 9900n } });
  }, 120_000);
  afterAll(() => shop?.stop(), 60_000);

  it("ends every saga and keeps every invariant", async () => {
    // Spread the calls over both orders replicas, as a balanced client would.
    const clients = shop.replicas.orders.map((replica) => createClient(OrdersService, createGrpcTransport({ baseUrl: `http://${replica.address}` })));
    const ids: string[] = [];
    let unavailableRetries = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < ORDERS) {
          const n = next++;
          const items = n % 10 === 0 ? [{ sku: "LAMP-1", quantity: 1 }] : [{ sku: "MUG-1", quantity: 1 + (n % 2) }];
          const request = { userId: `user-${n % 37}`, items, idempotencyKey: `many-${randomUUID()}`, currencyCode: "EUR" };
          // As a client should: "unavailable, retry later" is retried with the same key, which
          // cannot create a second order. On a loaded host the orders replicas' inventory circuit
          // can open (quotes past their 2 s deadline) and fails fast for 10 s or more, so the
          // client keeps backing off for longer than that before it gives up.
          const giveUpAt = Date.now() + RETRY_BUDGET_MS;
          for (let attempt = 1; ; attempt++) {
            try {
              const { order } = await clients[(n + attempt) % clients.length]!.createOrder(request);
              ids.push(order!.orderId);
              break;
            } catch (error) {
              if (ConnectError.from(error).code !== Code.Unavailable || Date.now() >= giveUpAt) throw error;
              unavailableRetries++;
              await sleep(Math.min(200 * 2 ** (attempt - 1), 3_000));
            }
          }
        }
      }),
    );
    expect(ids).toHaveLength(ORDERS);
    console.info(`many orders: ${ORDERS} placed, ${unavailableRetries} "unavailable" answers retried`);

    const deadline = Date.now() + 120_000;
    let report = await shop.check();
    while ((report.orders.pending > 0 || report.violations.length > 0) && Date.now() < deadline) {
      await sleep(500);
      report = await shop.check();
    }
    expect(report.violations).toEqual([]);
    expect(report.orders).toMatchObject({ total: ORDERS, pending: 0 });
    expect(report.orders.confirmed + report.orders.cancelled).toBe(ORDERS);
    // Declines happened, so compensations ran. How many orders end by decline, shortage or
    // deadline depends on how loaded the machine is; the invariants above must hold regardless.
    expect(report.orders.cancelledBy["payment-declined"] ?? 0, JSON.stringify(report)).toBeGreaterThan(0);
    expect(report.compensations.stockReleased).toBeGreaterThan(0);
    const sample = await clients[0]!.getOrder({ orderId: ids[0]! });
    expect([OrderStatus.CONFIRMED, OrderStatus.CANCELLED]).toContain(sample.order?.status);
  }, 300_000);
});
