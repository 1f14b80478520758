// The order saga end to end: real PostgreSQL, a real nats-server, every service through the
// production host. Each scenario ends with the invariant checker over all three databases.
import { Code, ConnectError } from "@connectrpc/connect";
import { connect, headers } from "@nats-io/transport-node";
import { sql } from "drizzle-orm";
import { jetstream } from "@nats-io/jetstream";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { CancellationReason, OrderStatus, type Order } from "protomesh/gen/shop/orders/v1/orders_pb";
import { PaymentStatus } from "protomesh/gen/shop/payments/v1/payments_pb";
import { type DeadLetterStore, EventHeaders, replayDeadLetter } from "@protomesh/messaging";
import { DEAD_LETTERS } from "@protomesh/messaging/nest";
import { pendingDeadLetters, sagaView } from "../../services/ops/saga-views.js";
import { databaseOf } from "../services/rpc-helpers.js";
import { startShop, type Shop } from "./shop.js";

const eur = (amountMinor: bigint) => ({ currencyCode: "EUR", amountMinor });

async function settled(shop: Shop, orderId: string, timeoutMs = 30_000): Promise<Order> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { order } = await shop.orders.getOrder({ orderId });
    if (order !== undefined && order.status !== OrderStatus.PENDING) return order;
    if (Date.now() > deadline) throw new Error(`order ${orderId} still pending after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Waits until the checker finds every event applied (compensations included), then returns its report. */
async function quiescent(shop: Shop, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const report = await shop.check();
    if (report.violations.length === 0 || Date.now() > deadline) return report;
    await sleep(250);
  }
}

const place = (shop: Shop, userId: string, items: { sku: string; quantity: number }[]) =>
  shop.orders.createOrder({ userId, items, idempotencyKey: `saga-${randomUUID()}`, currencyCode: "EUR" }).then((r) => r.order as Order);

describe("the order saga", () => {
  let shop: Shop;

  beforeAll(async () => {
    shop = await startShop({ sagaDeadlineMs: 4_000, env: { payments: { PAYMENT_DECLINED_USERS: "mallory" } } });
    await shop.inventory.setStock({ sku: "MUG-1", name: "Mug", available: 100, unitPrice: eur(1250n) });
    await shop.inventory.setStock({ sku: "RARE-1", name: "Rare", available: 1, unitPrice: eur(9900n) });
  }, 120_000);
  afterAll(() => shop?.stop(), 60_000);

  it("confirms an order: stock sold, payment captured for the total", async () => {
    const order = await place(shop, "alice", [{ sku: "MUG-1", quantity: 2 }]);
    const done = await settled(shop, order.orderId);
    expect(done.status).toBe(OrderStatus.CONFIRMED);
    const { payments } = await shop.payments.listPaymentsForOrder({ orderId: order.orderId });
    expect(payments.map((p) => [p.status, p.amount?.amountMinor])).toEqual([[PaymentStatus.CAPTURED, 2500n]]);
  });

  it("cancels when stock is short, charging nothing", async () => {
    const order = await place(shop, "alice", [{ sku: "RARE-1", quantity: 2 }]);
    const done = await settled(shop, order.orderId);
    expect([done.status, done.cancellationReason]).toEqual([OrderStatus.CANCELLED, CancellationReason.OUT_OF_STOCK]);
    expect((await shop.payments.listPaymentsForOrder({ orderId: order.orderId })).payments).toEqual([]);
  });

  it("cancels a declined payment and releases the reserved stock", async () => {
    const before = (await shop.inventory.getStock({ sku: "MUG-1" })).item;
    const order = await place(shop, "mallory", [{ sku: "MUG-1", quantity: 3 }]);
    const done = await settled(shop, order.orderId);
    expect([done.status, done.cancellationReason]).toEqual([OrderStatus.CANCELLED, CancellationReason.PAYMENT_DECLINED]);
    const report = await quiescent(shop);
    expect(report.violations).toEqual([]);
    const after = (await shop.inventory.getStock({ sku: "MUG-1" })).item;
    expect(after?.available).toBe(before?.available);
    expect(after?.reserved).toBe(0);
  });

  // Prices that never passed SetStock's rules: rows written before the rules existed, or by hand.
  it.each([
    ["a negative stored price", "CHEAP-1", -5000n, 3],
    ["a stored price whose total overflows int64", "HUGE-1", 9_223_372_036_854_775_807n, 2],
  ])("refuses an order priced from %s with FailedPrecondition, and captures nothing", async (_name, sku, amountMinor, quantity) => {
    await shop.inventory.setStock({ sku, name: "Bad price", available: 10, unitPrice: eur(1n) });
    await databaseOf(shop.replicas.inventory[0]!).execute(sql`update stock_items set unit_price_minor = ${amountMinor} where sku = ${sku}`);
    const outcome = await place(shop, "alice", [{ sku, quantity }]).then(
      (order) => settled(shop, order.orderId),
      (error: unknown) => ConnectError.from(error),
    );
    const report = await quiescent(shop);
    expect(report.violations).toEqual([]);
    expect(outcome).toBeInstanceOf(ConnectError);
    expect(outcome).toMatchObject({ code: Code.FailedPrecondition, rawMessage: expect.stringContaining(`unit_price of SKU ${sku}`) });
  });

  it("cancels an order before its reservation, and the late reservation holds nothing", async () => {
    const order = await place(shop, "alice", [{ sku: "MUG-1", quantity: 1 }]);
    const cancelled = await shop.orders.cancelOrder({ orderId: order.orderId }).then(
      (r) => r.order,
      () => undefined,
    );
    // Either the cancel won, or the saga was already done; both must end consistent.
    const done = await settled(shop, order.orderId);
    if (cancelled !== undefined) expect(done.cancellationReason).toBe(CancellationReason.CUSTOMER_REQUESTED);
    const report = await quiescent(shop);
    expect(report.violations).toEqual([]);
  });

  it("applies a duplicated OrderPlaced once, even past the broker's dedupe", async () => {
    const before = (await shop.inventory.getStock({ sku: "MUG-1" })).item;
    const order = await place(shop, "alice", [{ sku: "MUG-1", quantity: 4 }]);
    await settled(shop, order.orderId);
    // The stored OrderPlaced again, twice, under new message ids: JetStream keeps both copies,
    // so only the inventory inbox stands between them and a second reservation.
    const [stored] = (
      await databaseOf(shop.replicas.orders[0]!).execute(
        sql`select event_id, payload from outbox where aggregate_id = ${order.orderId} and event_type = ${OrderPlacedSchema.typeName}`,
      )
    ).rows as { event_id: string; payload: Uint8Array }[];
    expect(stored).toBeDefined();
    const nc = await connect({ servers: shop.nats.url });
    const js = jetstream(nc);
    for (const msgID of ["copy-1", "copy-2"]) {
      const copyHeaders = headers();
      copyHeaders.set(EventHeaders.eventType, OrderPlacedSchema.typeName);
      copyHeaders.set(EventHeaders.eventId, stored!.event_id);
      await js.publish(OrderPlacedSchema.typeName, stored!.payload, { msgID, headers: copyHeaders });
    }
    await nc.close();
    const report = await quiescent(shop);
    expect(report.violations).toEqual([]);
    const after = (await shop.inventory.getStock({ sku: "MUG-1" })).item;
    // The original order sold 4; the duplicate (same order id) reserved nothing more.
    expect((after?.available ?? 0) + (after?.reserved ?? 0)).toBe((before?.available ?? 0) - 4);
  });

  it("cancels at the deadline while payments is down, and charges nothing when it comes back", async () => {
    const payments = shop.replicas.payments.splice(0);
    await Promise.all(payments.map((replica) => replica.stop()));
    const order = await place(shop, "alice", [{ sku: "MUG-1", quantity: 1 }]);
    const done = await settled(shop, order.orderId, 20_000);
    expect([done.status, done.cancellationReason]).toEqual([OrderStatus.CANCELLED, CancellationReason.DEADLINE_EXCEEDED]);
    await shop.startReplica("payments");
    shop.payments = (await import("@connectrpc/connect")).createClient(
      (await import("protomesh/gen/shop/payments/v1/payments_pb")).PaymentsService,
      (await import("@connectrpc/connect-node")).createGrpcTransport({ baseUrl: `http://${shop.replicas.payments[0]?.address ?? ""}` }),
    );
    const report = await quiescent(shop);
    expect(report.violations).toEqual([]);
    const charges = (await shop.payments.listPaymentsForOrder({ orderId: order.orderId })).payments;
    expect(charges.every((p) => p.status !== PaymentStatus.CAPTURED)).toBe(true);
  }, 90_000);

  it("dead-letters a poison event while other orders complete, and lets an operator see and replay it", async () => {
    const nc = await connect({ servers: shop.nats.url });
    const poisonHeaders = headers();
    poisonHeaders.set(EventHeaders.eventType, OrderPlacedSchema.typeName);
    poisonHeaders.set(EventHeaders.eventId, "poison-1");
    await jetstream(nc).publish(OrderPlacedSchema.typeName, new Uint8Array([0xff, 0xff, 0xff, 0x07]), { msgID: "poison-1", headers: poisonHeaders });
    await nc.close();

    const order = await place(shop, "alice", [{ sku: "MUG-1", quantity: 1 }]);
    expect((await settled(shop, order.orderId)).status).toBe(OrderStatus.CONFIRMED);

    const inventoryDb = databaseOf(shop.replicas.inventory[0]!);
    let letters = await pendingDeadLetters(inventoryDb);
    for (let i = 0; i < 50 && !letters.some((l) => l.eventId === "poison-1"); i++) {
      await sleep(100);
      letters = await pendingDeadLetters(inventoryDb);
    }
    const poison = letters.find((l) => l.eventId === "poison-1");
    expect(poison).toMatchObject({ consumer: "inventory_shop_orders_v1_OrderPlaced", eventType: OrderPlacedSchema.typeName });
    expect(poison?.reason).toMatch(/decode|parse|premature|invalid|wire/i);

    // The order confirms before inventory applies OrderConfirmed: the reservation turns "sold" a moment later.
    const databases = { orders: databaseOf(shop.replicas.orders[0]!), inventory: { inventory: inventoryDb }, payments: databaseOf(shop.replicas.payments[0]!) };
    await expect
      .poll(() => sagaView(databases, order.orderId), { timeout: 10_000 })
      .toMatchObject({ order: { status: "confirmed" }, reservations: { inventory: { status: "sold" } }, charge: { status: "captured" } });

    const inventory = shop.replicas.inventory[0]!;
    await replayDeadLetter(inventory.app.get<DeadLetterStore>(DEAD_LETTERS), inventory.bus, poison!.id);
    expect((await pendingDeadLetters(inventoryDb)).some((l) => l.id === poison!.id)).toBe(false);
  });
});
