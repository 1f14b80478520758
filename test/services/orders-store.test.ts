import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QuoteItemsResponseSchema } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { StockRejectedSchema, StockReservedSchema } from "protomesh/gen/shop/inventory/v1/events_pb";
import { PaymentCapturedSchema } from "protomesh/gen/shop/payments/v1/events_pb";
import { CancellationReason, CreateOrderRequestSchema, OrderStatus } from "protomesh/gen/shop/orders/v1/orders_pb";
import { runTransaction, type Database } from "@protomesh/data";
import { createOrders, type Orders, type QuoteItems } from "../../services/orders/orders.js";
import { sagaHandlers, sweepExpiredSagas } from "../../services/orders/saga.js";
import { orders as ordersTable, outbox } from "../../services/orders/schema.js";
import { backends, openServiceDatabase } from "./backends.js";

// NEG-1, HUGE-1 and FREE-1 are prices an inventory bug or a hand-edited row could quote.
const prices: Record<string, bigint> = { "MUG-1": 1250n, "TEE-2": 2000n, "NEG-1": -5000n, "HUGE-1": 2n ** 63n - 1n, "FREE-1": 0n };
const quoteItems: QuoteItems = async (request) =>
  create(QuoteItemsResponseSchema, {
    lines: (request.items ?? []).map(({ sku = "", quantity = 0 }) =>
      prices[sku] === undefined
        ? { sku, quantity, known: false }
        : { sku, quantity, known: true, sufficient: true, available: 100, unitPrice: { currencyCode: "EUR", amountMinor: prices[sku] } },
    ),
    total: { currencyCode: "EUR", amountMinor: (request.items ?? []).reduce((sum, { sku = "", quantity = 0 }) => sum + (prices[sku] ?? 0n) * BigInt(quantity), 0n) },
  });

const request = (key: string, userId = "alice", items = [{ sku: "MUG-1", quantity: 2 }]) =>
  create(CreateOrderRequestSchema, { userId, items, idempotencyKey: key, currencyCode: "EUR" });

describe.each(backends)("orders store on %s", (backend) => {
  let database: Database;
  let close: () => Promise<void>;
  let orders: Orders;

  beforeAll(async () => {
    ({ database, close } = await openServiceDatabase(backend, "orders"));
    orders = createOrders(database.db, quoteItems, { sagaDeadlineMs: 60_000 });
  });
  afterAll(() => close());

  it("creates one PENDING order, priced by inventory, with OrderPlaced in the outbox", async () => {
    const { order, created } = await orders.createOrder(request("key-create-1"));
    expect(created).toBe(true);
    expect(order.status).toBe(OrderStatus.PENDING);
    expect(order.total).toMatchObject({ currencyCode: "EUR", amountMinor: 2500n });
    const events = await database.db.select().from(outbox).where(eq(outbox.aggregateId, order.orderId));
    expect(events.map((e) => e.eventType)).toEqual(["shop.orders.v1.OrderPlaced"]);
  });

  it("creates exactly one order for 50 concurrent calls with the same key", async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () => orders.createOrder(request("key-concurrent-1"))));
    expect(new Set(results.map((r) => r.order.orderId)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const rows = await database.db.select().from(ordersTable).where(eq(ordersTable.idempotencyKey, "key-concurrent-1"));
    expect(rows).toHaveLength(1);
    const events = await database.db.select().from(outbox).where(eq(outbox.aggregateId, results[0]?.order.orderId ?? ""));
    expect(events).toHaveLength(1);
  });

  it("refuses a key reused for a different order and an unknown SKU", async () => {
    await orders.createOrder(request("key-reuse-1"));
    await expect(orders.createOrder(request("key-reuse-1", "alice", [{ sku: "TEE-2", quantity: 1 }]))).rejects.toThrow("was already used for a different order");
    await expect(orders.createOrder(request("key-unknown-1", "alice", [{ sku: "NOPE-1", quantity: 1 }]))).rejects.toThrow("unknown SKU NOPE-1");
  });

  it.each([
    ["a negative quoted price", "key-neg-1", [{ sku: "NEG-1", quantity: 3 }], "unit_price of SKU NEG-1 is -5000 minor units"],
    ["a quoted price whose total overflows int64", "key-huge-1", [{ sku: "HUGE-1", quantity: 2 }], "unit_price of SKU HUGE-1 is 9223372036854775807 minor units"],
    ["a basket that totals 0", "key-free-1", [{ sku: "FREE-1", quantity: 1 }], "payments captures only positive amounts"],
  ])("refuses %s with FailedPrecondition and stores nothing", async (_name, key, items, message) => {
    await expect(orders.createOrder(request(key, "mallory", items))).rejects.toMatchObject({ code: Code.FailedPrecondition, message: expect.stringContaining(message) });
    expect(await database.db.select().from(ordersTable).where(eq(ordersTable.idempotencyKey, key))).toEqual([]);
  });

  it("totals an order from its quoted lines, not from the quote's own total", async () => {
    const lying: QuoteItems = async (req) => ({ ...(await quoteItems(req)), total: { $typeName: "shop.common.v1.Money", currencyCode: "EUR", amountMinor: -1n } });
    const { order } = await createOrders(database.db, lying, { sagaDeadlineMs: 60_000 }).createOrder(request("key-lying-1"));
    expect(order.total).toMatchObject({ amountMinor: 2500n });
  });

  it("lists newest first in stable pages, filtered by user", async () => {
    for (let i = 0; i < 7; i++) await orders.createOrder(request(`key-page-${i}`, "paula"));
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await orders.listOrders({ userId: "paula", pageSize: 3, pageToken });
      // An order created meanwhile is newer than the cursor: it must not shift later pages.
      if (pageToken === "") await orders.createOrder(request("key-page-late", "paula"));
      seen.push(...page.orders.map((o) => o.orderId));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    await expect(orders.listOrders({ userId: "", pageSize: 1, pageToken: "garbage!" })).rejects.toThrow("page_token is not a token");
  });

  it("reads several orders at once with their lines, leaving out ids it does not know", async () => {
    const placed = [(await orders.createOrder(request("key-many-1"))).order, (await orders.createOrder(request("key-many-2", "alice", [{ sku: "TEE-2", quantity: 3 }]))).order];
    const unknown = "5b0a2f41-0c8e-4f5e-9a7c-1d2e3f4a5b6c";
    const read = await orders.getOrders([unknown, ...placed.map((order) => order.orderId)]);
    expect(new Map(read.map((order) => [order.orderId, order]))).toEqual(new Map(placed.map((order) => [order.orderId, order])));
    expect(await orders.getOrders([])).toEqual([]);
    await expect(orders.getOrder(unknown)).rejects.toThrow(`no order with id ${unknown}`);
  });

  it("cancels only pending orders", async () => {
    const { order } = await orders.createOrder(request("key-cancel-1"));
    const cancelled = await orders.cancelOrder(order.orderId);
    expect(cancelled.status).toBe(OrderStatus.CANCELLED);
    expect(cancelled.cancellationReason).toBe(CancellationReason.CUSTOMER_REQUESTED);
    await expect(orders.cancelOrder(order.orderId)).rejects.toThrow("only pending orders can be cancelled");
    await expect(orders.cancelOrder("5b0a2f41-0c8e-4f5e-9a7c-1d2e3f4a5b6c")).rejects.toThrow("no order with id");
  });

  it("confirms on payment, cancels on rejection, ignores late events", async () => {
    const a = (await orders.createOrder(request("key-saga-a"))).order;
    const b = (await orders.createOrder(request("key-saga-b"))).order;
    await runTransaction(database.db, (tx) => sagaHandlers.stockReserved(tx, create(StockReservedSchema, { orderId: a.orderId })));
    await runTransaction(database.db, (tx) => sagaHandlers.paymentCaptured(tx, create(PaymentCapturedSchema, { orderId: a.orderId, paymentId: "p-a" })));
    await runTransaction(database.db, (tx) => sagaHandlers.stockRejected(tx, create(StockRejectedSchema, { orderId: b.orderId })));
    const late = await runTransaction(database.db, (tx) => sagaHandlers.paymentCaptured(tx, create(PaymentCapturedSchema, { orderId: b.orderId, paymentId: "p-b" })));
    expect(late.kind).toBe("ignore");
    expect((await orders.getOrder(a.orderId))).toMatchObject({ status: OrderStatus.CONFIRMED, paymentId: "p-a" });
    expect((await orders.getOrder(b.orderId))).toMatchObject({ status: OrderStatus.CANCELLED, cancellationReason: CancellationReason.OUT_OF_STOCK });
    const types = (await database.db.select().from(outbox).where(eq(outbox.aggregateId, a.orderId))).map((e) => e.eventType);
    expect(types).toEqual(["shop.orders.v1.OrderPlaced", "shop.orders.v1.OrderConfirmed"]);
  });

  it("cancels a saga past its deadline, once, from any number of sweepers", async () => {
    const { order } = await orders.createOrder(request("key-deadline-1"));
    const later = new Date(Date.now() + 120_000);
    const swept = await Promise.all([sweepExpiredSagas(database.db, later), sweepExpiredSagas(database.db, later)]);
    expect(swept.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect(await orders.getOrder(order.orderId)).toMatchObject({ status: OrderStatus.CANCELLED, cancellationReason: CancellationReason.DEADLINE_EXCEEDED });
    const cancels = (await database.db.select().from(outbox).where(eq(outbox.aggregateId, order.orderId))).filter((e) => e.eventType === "shop.orders.v1.OrderCancelled");
    expect(cancels).toHaveLength(1);
  });
});
