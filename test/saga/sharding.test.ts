// The order saga over inventory split by SKU into two shards (ADR 0105): each shard on its own
// PostgreSQL database with its own durable consumers, orders splitting quotes and waiting for
// every shard an order touches, a private nats-server. Baskets mix the shards' SKUs, some SKUs
// run short and two customers' cards are declined; every saga must end and the checker, summing
// stock over the shards, must find nothing. Then one shard answers late: the order waits for it.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { shardOf } from "@protomesh/clients";
import { openDatabase, type Database } from "@protomesh/data";
import { InventoryService } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { CancellationReason, OrderStatus, type Order } from "protomesh/gen/shop/orders/v1/orders_pb";
import { PaymentStatus } from "protomesh/gen/shop/payments/v1/payments_pb";
import { startRedisServer, type RedisServer } from "../helpers/index.js";
import { startShop, type Shop } from "./shop.js";

const execFileAsync = promisify(execFile);
const root = resolve(import.meta.dirname, "../..");
const SHARDS = ["inventory-0", "inventory-1"];
const ORDERS = 150;
const skus = Array.from({ length: 10 }, (_, i) => `SKU-${String(i).padStart(3, "0")}`);
/** Plenty of most SKUs; the last two run out, so some orders are rejected by one shard only. */
const stockOf = (index: number) => (index >= skus.length - 2 ? 12 : 1_000);

describe("the order saga over two inventory shards", () => {
  let shop: Shop;
  let redis: RedisServer;
  const shardDatabases = new Map<string, Database>();
  let ordersDatabase: Database;

  beforeAll(async () => {
    // Orders keeps inventory's last quotes in Redis, so it can place an order while a shard is down (ADR 0053).
    redis = await startRedisServer();
    shop = await startShop({
      name: "shards",
      inventoryShards: SHARDS,
      sagaDeadlineMs: 30_000,
      env: { orders: { REDIS_URL: redis.url }, payments: { PAYMENT_DECLINED_USERS: "user-3,user-11" } },
    });
    for (const [index, sku] of skus.entries()) {
      await shop.inventory.setStock({ sku, name: sku, available: stockOf(index), unitPrice: { currencyCode: "EUR", amountMinor: BigInt(100 + index) } });
    }
    for (const shard of SHARDS) shardDatabases.set(shard, await openDatabase({ url: shop.databaseUrl("inventory", shard) }));
    ordersDatabase = await openDatabase({ url: shop.databaseUrl("orders") });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([...shardDatabases.values(), ordersDatabase].filter((d) => d !== undefined).map((d) => d.close()));
    await shop?.stop();
    await redis?.dispose();
  }, 60_000);

  const shardRows = async <T>(shard: string, query: ReturnType<typeof sql>) => (await (shardDatabases.get(shard) as Database).db.execute(query)).rows as T[];

  it("stores every SKU's stock in exactly one shard database, the one shardOf names", async () => {
    const holders = new Map<string, string[]>();
    for (const shard of SHARDS) {
      for (const { sku } of await shardRows<{ sku: string }>(shard, sql`select sku from stock_items`)) holders.set(sku, [...(holders.get(sku) ?? []), shard]);
    }
    for (const sku of skus) expect(holders.get(sku), sku).toEqual([shardOf(sku, SHARDS)]);
    // Both shards own some of the SKUs, so baskets below cross shards.
    for (const shard of SHARDS) expect(skus.filter((sku) => shardOf(sku, SHARDS) === shard).length).toBeGreaterThan(1);
  });

  it("refuses a call for another shard's SKU with FailedPrecondition naming the owner, changing nothing", async () => {
    const sku = skus.find((s) => shardOf(s, SHARDS) === "inventory-0") as string;
    const [wrongShard] = shop.shardReplicas("inventory-1");
    const direct = createClient(InventoryService, createGrpcTransport({ baseUrl: `http://${wrongShard?.address ?? ""}` }));
    for (const call of [
      () => direct.getStock({ sku }),
      () => direct.setStock({ sku, name: sku, available: 1, unitPrice: { currencyCode: "EUR", amountMinor: 1n } }),
      () => direct.quoteItems({ items: [{ sku, quantity: 1 }], currencyCode: "EUR" }),
    ]) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(error?.code).toBe(Code.FailedPrecondition);
      expect(error?.rawMessage).toContain(`${sku} belongs to shard inventory-0; this is shard inventory-1`);
    }
    expect(await shardRows("inventory-1", sql`select sku from stock_items where sku = ${sku}`)).toEqual([]);
  });

  it("ends every saga over both shards and keeps every invariant", async () => {
    const baskets: { sku: string; quantity: number }[][] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < ORDERS) {
          const n = next++;
          // One to three distinct SKUs, walking the catalogue so that scarce and plentiful ones mix.
          const items = Array.from({ length: 1 + (n % 3) }, (_, k) => ({ sku: skus[(n * 3 + k * 4) % skus.length] as string, quantity: 1 + ((n + k) % 2) }));
          baskets.push(items);
          await shop.orders.createOrder({ userId: `user-${n % 23}`, items, idempotencyKey: `shards-${randomUUID()}`, currencyCode: "EUR" });
        }
      }),
    );

    const report = await shop.settle(60_000);
    expect(report.violations).toEqual([]);
    expect(report.orders).toMatchObject({ total: ORDERS, pending: 0 });
    expect(report.orders.confirmed).toBeGreaterThan(0);
    expect(report.orders.cancelledBy["out-of-stock"] ?? 0, JSON.stringify(report.orders)).toBeGreaterThan(0);
    expect(report.orders.cancelledBy["payment-declined"] ?? 0, JSON.stringify(report.orders)).toBeGreaterThan(0);
    expect(report.compensations.stockReleased).toBeGreaterThan(0);

    // Orders over both shards were confirmed, and some were cancelled by one shard's shortage.
    type OrderRow = { order_id: string; status: string; cause: string | null; skus: string[] };
    const orders = (
      await ordersDatabase.db.execute(
        sql`select o.order_id::text, o.status, o.cancellation_cause as cause, array_agg(l.sku) as skus from orders o join order_lines l using (order_id) group by 1, 2, 3`,
      )
    ).rows as OrderRow[];
    const crossShard = (order: OrderRow) => new Set(order.skus.map((sku) => shardOf(sku, SHARDS))).size === 2;
    expect(orders.filter((o) => crossShard(o) && o.status === "confirmed").length).toBeGreaterThan(0);
    expect(orders.filter((o) => crossShard(o) && o.cause === "out-of-stock").length).toBeGreaterThan(0);

    // Stock over the shards: nothing held any more, and what each SKU sold is what confirmed orders bought.
    const bought = (
      await ordersDatabase.db.execute(
        sql`select l.sku, sum(l.quantity)::int as quantity from orders o join order_lines l using (order_id) where o.status = 'confirmed' group by l.sku`,
      )
    ).rows as { sku: string; quantity: number }[];
    const sold = new Map<string, number>();
    for (const shard of SHARDS) {
      for (const row of await shardRows<{ sku: string; sold: number; reserved: number }>(shard, sql`select sku, sold, reserved from stock_items`)) {
        expect(row.reserved, `${row.sku} still reserved in ${shard}`).toBe(0);
        sold.set(row.sku, (sold.get(row.sku) ?? 0) + row.sold);
      }
      // A shard's reservations name only its own SKUs.
      const held = await shardRows<{ sku: string }>(shard, sql`select distinct line->>'sku' as sku from reservations, jsonb_array_elements(lines) as line`);
      for (const { sku } of held) expect(shardOf(sku, SHARDS), `${sku} held in ${shard}`).toBe(shard);
    }
    expect(Object.fromEntries(sold)).toEqual(Object.fromEntries(skus.map((sku) => [sku, bought.find((b) => b.sku === sku)?.quantity ?? 0])));
    expect(baskets).toHaveLength(ORDERS);

    // The operator's view of a confirmed cross-shard order shows its reservation in each shard.
    const sample = orders.find((o) => crossShard(o) && o.status === "confirmed") as OrderRow;
    const ops = await execFileAsync(process.execPath, ["--conditions=source", "--import", "tsx", "services/ops/cli.ts", "saga", sample.order_id], {
      cwd: root,
      env: {
        ...process.env,
        INVENTORY_SHARDS: SHARDS.join(","),
        ORDERS_DATABASE_URL: shop.databaseUrl("orders"),
        PAYMENTS_DATABASE_URL: shop.databaseUrl("payments"),
        INVENTORY_0_DATABASE_URL: shop.databaseUrl("inventory", "inventory-0"),
        INVENTORY_1_DATABASE_URL: shop.databaseUrl("inventory", "inventory-1"),
      },
    });
    expect(JSON.parse(ops.stdout)).toMatchObject({
      order: { status: "confirmed" },
      reservations: { "inventory-0": { status: "sold" }, "inventory-1": { status: "sold" } },
      charge: { status: "captured" },
    });
  }, 120_000);
  const orderStatus = async (orderId: string) => (await shop.orders.getOrder({ orderId })).order as Order;
  async function settled(orderId: string): Promise<Order> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const order = await orderStatus(orderId);
      if (order.status !== OrderStatus.PENDING || Date.now() > deadline) return order;
      await sleep(100);
    }
  }

  it("waits for a shard that answers late: confirms once it reserves, or cancels, refunds and releases when it rejects", async () => {
    const early = skus.find((sku) => shardOf(sku, SHARDS) === "inventory-0" && stockOf(skus.indexOf(sku)) > 100) as string;
    const late = skus.find((sku) => shardOf(sku, SHARDS) === "inventory-1" && stockOf(skus.indexOf(sku)) > 100) as string;
    const scarce = "LATE-SCARCE";
    expect(shardOf(scarce, SHARDS)).toBe("inventory-1");
    await shop.inventory.setStock({ sku: scarce, name: scarce, available: 1, unitPrice: { currencyCode: "EUR", amountMinor: 500n } });
    // Priced once while both shards answer, so orders remembers every SKU's price.
    const warmUp = await shop.orders.createOrder({
      userId: "late-0",
      items: [
        { sku: early, quantity: 1 },
        { sku: late, quantity: 1 },
        { sku: scarce, quantity: 1 },
      ],
      idempotencyKey: randomUUID(),
      currencyCode: "EUR",
    });
    expect((await settled(warmUp.order?.orderId ?? "")).status).toBe(OrderStatus.CONFIRMED);

    // inventory-1 goes away; orders still places baskets from the remembered prices.
    await Promise.all(shop.shardReplicas("inventory-1").map((replica) => replica.stop()));
    const place = async (userId: string, items: { sku: string; quantity: number }[]) => {
      let quoteAge: string | null = null;
      const placed = await shop.orders.createOrder({ userId, items, idempotencyKey: randomUUID(), currencyCode: "EUR" }, { onHeader: (headers) => (quoteAge = headers.get("quote-age-ms")) });
      expect(quoteAge, "priced from remembered quotes").not.toBeNull();
      return placed.order?.orderId ?? "";
    };
    const waits = await place("late-1", [
      { sku: early, quantity: 1 },
      { sku: late, quantity: 1 },
    ]);
    const rejected = await place("late-2", [
      { sku: early, quantity: 2 },
      { sku: scarce, quantity: 1 },
    ]);

    // inventory-0 reserved and payments charged, but orders waits for inventory-1.
    const captured = async (orderId: string) => (await shop.payments.listPaymentsForOrder({ orderId })).payments.some((p) => p.status === PaymentStatus.CAPTURED);
    const deadline = Date.now() + 20_000;
    while (!((await captured(waits)) && (await captured(rejected))) && Date.now() < deadline) await sleep(100);
    expect(await captured(waits)).toBe(true);
    expect(await captured(rejected)).toBe(true);
    await sleep(1_000);
    expect((await orderStatus(waits)).status).toBe(OrderStatus.PENDING);
    expect((await orderStatus(rejected)).status).toBe(OrderStatus.PENDING);

    // inventory-1 comes back and works through what its durables kept.
    await shop.startReplica("inventory", "inventory-1");
    expect(await settled(waits)).toMatchObject({ status: OrderStatus.CONFIRMED });
    expect(await settled(rejected)).toMatchObject({ status: OrderStatus.CANCELLED, cancellationReason: CancellationReason.OUT_OF_STOCK });

    const report = await shop.settle(30_000);
    expect(report.violations).toEqual([]);
    expect(report.orders.pending).toBe(0);
    // The rejected order's capture was refunded and inventory-0 gave its two units back.
    const payments = (await shop.payments.listPaymentsForOrder({ orderId: rejected })).payments;
    expect(payments.map((p) => p.status)).toEqual([PaymentStatus.REFUNDED]);
    expect(await shardRows("inventory-0", sql`select status from reservations where order_id = ${rejected}`)).toEqual([{ status: "released" }]);
  }, 60_000);
});
