import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdjustStockRequestSchema, SetStockRequestSchema } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { OrderCancelledSchema, OrderConfirmedSchema, OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { runTransaction, type Database } from "@protomesh/data";
import { reservationHandlers } from "../../services/inventory/reservations.js";
import { outbox, reservations, stockItems, stockLedger } from "../../services/inventory/schema.js";
import { createStockStore, type StockStore } from "../../services/inventory/stock.js";
import { backends, openServiceDatabase } from "./backends.js";

const eur = (amountMinor: bigint) => ({ currencyCode: "EUR", amountMinor });

describe.each(backends)("inventory store on %s", (backend) => {
  let database: Database;
  let close: () => Promise<void>;
  let store: StockStore;

  beforeAll(async () => {
    ({ database, close } = await openServiceDatabase(backend, "inventory"));
    store = createStockStore(database.db);
  });
  afterAll(() => close());

  const setStock = (sku: string, available: number, price = 1000n) =>
    store.setStock(create(SetStockRequestSchema, { sku, name: sku.toLowerCase(), available, unitPrice: eur(price) }));

  it("quotes a basket with prices and availability", async () => {
    await setStock("MUG-1", 5, 1250n);
    const quote = await store.quote([{ sku: "MUG-1", quantity: 2 } as never, { sku: "GHOST-9", quantity: 1 } as never], "EUR");
    expect(quote.total).toMatchObject({ amountMinor: 2500n });
    expect(quote.lines.map((l) => [l.sku, l.known, l.sufficient])).toEqual([["MUG-1", true, true], ["GHOST-9", false, false]]);
    expect(quote.allAvailable).toBe(false);
  });

  it("refuses a price outside the contract's bounds even when the request skipped validation, storing nothing", async () => {
    for (const price of [-5000n, 100_000_000_001n]) {
      await expect(setStock("BAD-PRICE-1", 5, price)).rejects.toMatchObject({ code: Code.InvalidArgument, message: expect.stringContaining("unit_price.amount_minor") });
    }
    expect(await database.db.select().from(stockItems).where(eq(stockItems.sku, "BAD-PRICE-1"))).toEqual([]);
  });

  it("applies concurrent adjustments without losing one or going below zero", async () => {
    await setStock("PEN-2", 10);
    const results = await Promise.allSettled(
      Array.from({ length: 25 }, (_, i) => store.adjustStock(create(AdjustStockRequestSchema, { sku: "PEN-2", delta: -1, idempotencyKey: `take-pen-${i}` }))),
    );
    const succeeded = results.filter((r) => r.status === "fulfilled").length;
    expect(succeeded).toBe(10);
    for (const r of results) if (r.status === "rejected") expect(String(r.reason)).toContain("stock cannot go below zero");
    expect((await store.getStock("PEN-2")).available).toBe(0);
    const [ledger] = await database.db.select({ total: sql<number>`sum(${stockLedger.delta})::int` }).from(stockLedger).where(eq(stockLedger.sku, "PEN-2"));
    expect(ledger?.total).toBe(0);
  });

  it("applies a retried adjustment once and refuses a key reused for another change", async () => {
    await setStock("CUP-3", 1);
    const request = create(AdjustStockRequestSchema, { sku: "CUP-3", delta: 4, idempotencyKey: "restock-cup-1" });
    await store.adjustStock(request);
    expect((await store.adjustStock(request)).available).toBe(5);
    await expect(store.adjustStock({ ...request, delta: 9 })).rejects.toThrow("was used for a different adjustment");
  });

  it("reserves, then sells or releases, conserving stock and writing events to the outbox", async () => {
    await setStock("BAG-4", 3);
    const placed = (orderId: string, quantity: number) =>
      create(OrderPlacedSchema, { eventId: `${orderId}-placed`, orderId, userId: "u1", lines: [{ sku: "BAG-4", quantity }], total: eur(100n) });
    const tx = <T>(work: Parameters<typeof runTransaction<Record<string, never>, T>>[1]) => runTransaction(database.db, work);

    await tx((t) => reservationHandlers.orderPlaced(t, placed("o-1", 2)));
    await tx((t) => reservationHandlers.orderPlaced(t, placed("o-2", 2))); // only 1 left: rejected
    await tx((t) => reservationHandlers.orderConfirmed(t, create(OrderConfirmedSchema, { orderId: "o-1" })));
    await tx((t) => reservationHandlers.orderCancelled(t, create(OrderCancelledSchema, { orderId: "o-3" }))); // overtakes its OrderPlaced
    await tx((t) => reservationHandlers.orderPlaced(t, placed("o-3", 1))); // tombstone: nothing reserved

    const [bag] = await database.db.select().from(stockItems).where(eq(stockItems.sku, "BAG-4"));
    expect(bag).toMatchObject({ available: 1, reserved: 0, sold: 2 });
    const statuses = await database.db.select({ orderId: reservations.orderId, status: reservations.status }).from(reservations).orderBy(reservations.orderId);
    expect(statuses).toEqual([
      { orderId: "o-1", status: "sold" },
      { orderId: "o-2", status: "rejected" },
      { orderId: "o-3", status: "cancelled-before-placed" },
    ]);
    const events = await database.db.select({ type: outbox.eventType, aggregateId: outbox.aggregateId }).from(outbox).orderBy(outbox.id);
    expect(events).toEqual([
      { type: "shop.inventory.v1.StockReserved", aggregateId: "o-1" },
      { type: "shop.inventory.v1.StockRejected", aggregateId: "o-2" },
    ]);
  });

  it("serializes concurrent events of one order: a reservation and its cancellation end released", async () => {
    await setStock("HAT-5", 2);
    const orderId = "o-race";
    await Promise.all([
      runTransaction(database.db, (t) => reservationHandlers.orderPlaced(t, create(OrderPlacedSchema, { orderId, userId: "u", lines: [{ sku: "HAT-5", quantity: 2 }], total: eur(1n) }))),
      runTransaction(database.db, (t) => reservationHandlers.orderCancelled(t, create(OrderCancelledSchema, { orderId }))),
    ]);
    const [hat] = await database.db.select().from(stockItems).where(eq(stockItems.sku, "HAT-5"));
    const [reservation] = await database.db.select().from(reservations).where(eq(reservations.orderId, orderId));
    // Either order of arrival is fine; what must hold is that nothing stays held.
    expect(hat).toMatchObject({ available: 2, reserved: 0, sold: 0 });
    expect(["released", "cancelled-before-placed"]).toContain(reservation?.status);
  });
});
