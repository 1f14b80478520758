import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "@protomesh/data";
import { checkInvariants } from "./invariants.js";

const migrations = (service: string) => new URL(`../../services/${service}/migrations`, import.meta.url).pathname;

describe("invariant checker", () => {
  let orders: Database;
  let inventory: Database;
  let payments: Database;

  beforeAll(async () => {
    [orders, inventory, payments] = await Promise.all([
      openDatabase({ migrationsFolder: migrations("orders") }),
      openDatabase({ migrationsFolder: migrations("inventory") }),
      openDatabase({ migrationsFolder: migrations("payments") }),
    ]);
  });
  afterAll(() => Promise.all([orders, inventory, payments].map((db) => db.close())));

  const check = () => checkInvariants({ orders: orders.db, inventory: inventory.db, payments: payments.db }, { sagaDeadlineMs: 30_000 });

  it("finds nothing wrong in a consistent confirmed saga", async () => {
    const orderId = "0b8f6a52-4c1e-4f0e-9a53-5b7c2f1d9e10";
    await orders.db.execute(sql`insert into orders (order_id, user_id, status, currency_code, total_minor, idempotency_key, request_hash, payment_id, deadline, created_at, updated_at)
      values (${orderId}, 'u', 'confirmed', 'EUR', 500, 'k-1', 'h', 'p-1', now() + interval '30 seconds', now(), now())`);
    await orders.db.execute(sql`insert into outbox (event_id, aggregate_type, aggregate_id, event_type, subject, payload, published_at)
      values ('e-placed', 'order', ${orderId}, 'shop.orders.v1.OrderPlaced', 'shop.orders.v1.OrderPlaced', '\\x00', now()),
             ('e-confirmed', 'order', ${orderId}, 'shop.orders.v1.OrderConfirmed', 'shop.orders.v1.OrderConfirmed', '\\x00', now())`);
    await inventory.db.execute(sql`insert into stock_items (sku, name, available, reserved, sold, currency_code, unit_price_minor, updated_at) values ('MUG-1', 'mug', 4, 0, 1, 'EUR', 500, now())`);
    await inventory.db.execute(sql`insert into stock_ledger (sku, delta, reason, created_at) values ('MUG-1', 5, 'set', now())`);
    await inventory.db.execute(sql`insert into reservations (order_id, status, lines, updated_at) values (${orderId}, 'sold', '[{"sku":"MUG-1","quantity":1}]', now())`);
    await inventory.db.execute(sql`insert into inbox (consumer, event_id) values ('inventory_shop_orders_v1_OrderPlaced', 'e-placed'), ('inventory_shop_orders_v1_OrderConfirmed', 'e-confirmed')`);
    await inventory.db.execute(sql`insert into outbox (event_id, aggregate_type, aggregate_id, event_type, subject, payload, published_at)
      values ('e-reserved', 'order', ${orderId}, 'shop.inventory.v1.StockReserved', 'shop.inventory.v1.StockReserved', '\\x00', now())`);
    await payments.db.execute(sql`insert into inbox (consumer, event_id) values ('payments_shop_inventory_v1_StockReserved', 'e-reserved')`);
    await payments.db.execute(sql`insert into ledger_entries (payment_id, order_id, kind, amount_minor, currency_code, created_at)
      values ('5b0a2f41-0c8e-4f5e-9a7c-1d2e3f4a5b6c', ${orderId}, 'capture', 500, 'EUR', now())`);
    await payments.db.execute(sql`insert into outbox (event_id, aggregate_type, aggregate_id, event_type, subject, payload, published_at)
      values ('e-captured', 'order', ${orderId}, 'shop.payments.v1.PaymentCaptured', 'shop.payments.v1.PaymentCaptured', '\\x00', now())`);
    await orders.db.execute(sql`insert into inbox (consumer, event_id) values ('orders_shop_inventory_v1_StockReserved', 'e-reserved'), ('orders_shop_payments_v1_PaymentCaptured', 'e-captured')`);

    const report = await check();
    expect(report.violations).toEqual([]);
    expect(report.orders).toMatchObject({ total: 1, confirmed: 1 });
    expect(report.events).toMatchObject({ published: 4, unpublished: 0, consumed: 5 });
  });

  it("reports a lost event, a phantom, unconserved stock, money on a cancelled order and a stuck saga", async () => {
    const cancelledId = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
    await orders.db.execute(sql`insert into orders (order_id, user_id, status, cancellation_cause, currency_code, total_minor, idempotency_key, request_hash, deadline, created_at, updated_at)
      values (${cancelledId}, 'u', 'cancelled', 'payment-declined', 'EUR', 700, 'k-2', 'h', now(), now(), now()),
             ('2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a', 'u', 'pending', null, 'EUR', 1, 'k-3', 'h', now(), now() - interval '1 hour', now() - interval '1 hour')`);
    await orders.db.execute(sql`insert into outbox (event_id, aggregate_type, aggregate_id, event_type, subject, payload, published_at)
      values ('e-lost', 'order', ${cancelledId}, 'shop.orders.v1.OrderCancelled', 'shop.orders.v1.OrderCancelled', '\\x00', now())`);
    await inventory.db.execute(sql`insert into inbox (consumer, event_id) values ('inventory_shop_orders_v1_OrderPlaced', 'e-ghost')`);
    await inventory.db.execute(sql`update stock_items set available = available + 3 where sku = 'MUG-1'`);
    await payments.db.execute(sql`insert into ledger_entries (payment_id, order_id, kind, amount_minor, currency_code, created_at)
      values ('6b7c8d9e-0f1a-4b2c-8d3e-4f5a6b7c8d9e', ${cancelledId}, 'capture', 700, 'EUR', now())`);

    const report = await check();
    const byInvariant = (invariant: string) => report.violations.filter((v) => v.invariant === invariant).map((v) => v.message);
    expect(byInvariant("I1").join("\n")).toContain("never applied shop.orders.v1.OrderCancelled e-lost");
    expect(byInvariant("I2")).toEqual(["inventory_shop_orders_v1_OrderPlaced applied event e-ghost, which no outbox ever committed"]);
    expect(byInvariant("I5")).toEqual(["SKU MUG-1: available 7 + reserved 0 + sold 1 != stocked 5"]);
    expect(byInvariant("I6")).toEqual([`order ${cancelledId} is cancelled but still charged 700`]);
    expect(byInvariant("I7")).toEqual(["order 2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a is still pending"]);
  });

  it("reports a confirmed order whose total and capture are negative, though they match", async () => {
    const orderId = "3e4f5a6b-7c8d-4e9f-8a1b-2c3d4e5f6a7b";
    await orders.db.execute(sql`insert into orders (order_id, user_id, status, currency_code, total_minor, idempotency_key, request_hash, payment_id, deadline, created_at, updated_at)
      values (${orderId}, 'u', 'confirmed', 'EUR', -15000, 'k-4', 'h', 'p-4', now() + interval '30 seconds', now(), now())`);
    await payments.db.execute(sql`insert into ledger_entries (payment_id, order_id, kind, amount_minor, currency_code, created_at)
      values ('7c8d9e0f-1a2b-4c3d-9e4f-5a6b7c8d9e0f', ${orderId}, 'capture', -15000, 'EUR', now())`);

    const report = await check();
    expect(report.violations.filter((v) => v.message.includes(orderId))).toEqual([
      { invariant: "I6", message: `order ${orderId} is confirmed with a total of -15000; only positive totals are charged` },
      { invariant: "I6", message: `payments captured -15000 for order ${orderId}; a capture is positive` },
    ]);
  });
});
