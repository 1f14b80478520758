// The caches, the quote fallback and the CreateOrder limit in the running shop: inventory,
// payments and two orders replicas through the production host, on PostgreSQL, a private
// nats-server and a private redis-server that the last test kills. TTLs are a minute, so an
// answer that changes within seconds was changed by an invalidation, not by expiry.
import { randomUUID } from "node:crypto";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from "vitest";
import { retryDelayMs, type ReadThroughCache } from "@protomesh/cache";
import { openDatabase, type Database } from "@protomesh/data";
import { InventoryService, type StockItem } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { OrderStatus, OrdersService } from "protomesh/gen/shop/orders/v1/orders_pb";
import type { RunningService } from "../../services/host/run-service.js";
import { STOCK_CACHE } from "../../services/inventory/inventory.tokens.js";
import type { Orders } from "../../services/orders/orders.js";
import { ORDERS_FROM_DATABASE } from "../../services/orders/orders.tokens.js";
import { orders as ordersTable } from "../../services/orders/schema.js";
import { createTestDatabase, startNatsServer, startRedisServer, type NatsServer, type RedisServer, type TestDatabase } from "../helpers/index.js";
import { cleanUp, grpcClient, startService, startTimeoutMs } from "../services/rpc-helpers.js";

const MUG = { sku: "MUG-1", unitPriceMinor: 1250n };
const LIMIT = 3;

let nats: NatsServer;
let redis: RedisServer;
const databases = new Map<string, TestDatabase>();
const running: RunningService[] = [];
let inventoryReplica: RunningService;
let ordersReplicas: RunningService[];
let orders: Client<typeof OrdersService>[];
let inventory: Client<typeof InventoryService>;
let ordersDb: Database;
let databaseReads: MockInstance[];

const env = (service: string, extra: Record<string, string> = {}) => ({
  NATS_URL: nats.url,
  REDIS_URL: redis.url,
  DATABASE_URL: databases.get(service)?.url ?? "",
  SAGA_DEADLINE_MS: "120000",
  ...extra,
});

async function start(service: "orders" | "inventory" | "payments", extra: Record<string, string> = {}) {
  const replica = await startService(service, env(service, extra));
  running.push(replica);
  return replica;
}

const place = (replica: number, userId: string, items = [{ sku: MUG.sku, quantity: 2 }]) =>
  (orders[replica] as Client<typeof OrdersService>).createOrder({ userId, items, idempotencyKey: `cache-${randomUUID()}`, currencyCode: "EUR" });

const readsFromDatabase = () => databaseReads.map((spy) => spy.mock.calls.length);
const totalReads = () => readsFromDatabase().reduce((a, b) => a + b, 0);

/**
 * How many database reads six GetOrder calls (alternating replicas) cost, once the answers
 * settle: a commit invalidates just after it is visible, so one read may still race with it.
 */
async function readsForSixGets(orderId: string, status: OrderStatus): Promise<number> {
  let cost = -1;
  await expect
    .poll(
      async () => {
        const before = totalReads();
        for (let i = 0; i < 6; i++) expect((await (orders[i % 2] as Client<typeof OrdersService>).getOrder({ orderId })).order?.status).toBe(status);
        cost = totalReads() - before;
        return cost;
      },
      { timeout: 10_000, interval: 100 },
    )
    .toBe(0);
  return cost;
}

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  return call.then(
    () => {
      throw new Error("the call succeeded; it should have failed");
    },
    (error: unknown) => ConnectError.from(error),
  );
}

/** Waits until orders has applied the stock reservation of an order (the last change before payment). */
async function reservationApplied(orderId: string) {
  await expect.poll(async () => (await ordersDb.db.select().from(ordersTable).where(eq(ordersTable.orderId, orderId)))[0]?.stockReserved, { timeout: 20_000 }).toBe(true);
}

beforeAll(async () => {
  nats = await startNatsServer();
  redis = await startRedisServer();
  for (const service of ["orders", "inventory", "payments"]) databases.set(service, await createTestDatabase(`cache_${service}`));
  inventoryReplica = await start("inventory", { STOCK_CACHE_TTL_MS: "60000" });
  inventory = grpcClient(InventoryService, inventoryReplica);
  await inventory.setStock({ sku: MUG.sku, name: "Mug", available: 1000, unitPrice: { currencyCode: "EUR", amountMinor: MUG.unitPriceMinor } });
  await inventory.setStock({ sku: "NEVER-QUOTED", name: "Never quoted by orders", available: 10, unitPrice: { currencyCode: "EUR", amountMinor: 100n } });
  const ordersEnv = { INVENTORY_TARGET: inventoryReplica.address, ORDER_CACHE_TTL_MS: "60000", CREATE_ORDER_LIMIT: String(LIMIT), CREATE_ORDER_LIMIT_WINDOW_MS: "60000" };
  ordersReplicas = [await start("orders", ordersEnv), await start("orders", ordersEnv)];
  orders = ordersReplicas.map((replica) => grpcClient(OrdersService, replica));
  // A counter around each replica's database read of an order: the cache's loader.
  databaseReads = ordersReplicas.map((replica) => vi.spyOn(replica.app.get<Orders>(ORDERS_FROM_DATABASE), "getOrder"));
  ordersDb = await openDatabase({ url: databases.get("orders")?.url ?? "" });
}, 2 * startTimeoutMs);

afterAll(async () => {
  await cleanUp([
    () => ordersDb?.close(),
    ...running.reverse().map((replica) => () => replica.stop()),
    () => nats?.dispose(),
    () => redis?.dispose(),
    ...[...databases.values()].map((database) => () => database.drop()),
  ]);
});

describe("caching in the running shop", () => {
  let pendingOrderId = "";

  it("answers repeated GetOrder calls on either replica from Redis: the database is read once", async () => {
    const { order } = await place(0, "reader");
    pendingOrderId = order?.orderId ?? "";
    await reservationApplied(pendingOrderId);
    const before = totalReads();
    const { order: read } = await (orders[0] as Client<typeof OrdersService>).getOrder({ orderId: pendingOrderId });
    expect(read).toMatchObject({ orderId: pendingOrderId, status: OrderStatus.PENDING, total: { amountMinor: 2n * MUG.unitPriceMinor } });
    expect(totalReads() - before).toBe(1);
    expect(await readsForSixGets(pendingOrderId, OrderStatus.PENDING)).toBe(0);
  });

  it("answers the new status as soon as the saga's event is applied, long before the TTL", async () => {
    const payments = await start("payments");
    expect(payments.address).not.toBe("");
    // PaymentCaptured -> orders confirms and invalidates; the 60 s TTL cannot explain a change within 20 s.
    await expect.poll(async () => (await (orders[1] as Client<typeof OrdersService>).getOrder({ orderId: pendingOrderId })).order?.status, { timeout: 20_000 }).toBe(OrderStatus.CONFIRMED);
    expect(await readsForSixGets(pendingOrderId, OrderStatus.CONFIRMED)).toBe(0);
  });

  it("prices baskets from cached stock, and a reservation invalidates what it changed", async () => {
    const stockCache = inventoryReplica.app.get<ReadThroughCache<StockItem>>(STOCK_CACHE);
    const quote = () => inventory.quoteItems({ currencyCode: "EUR", items: [{ sku: MUG.sku, quantity: 1 }] });
    // Let the earlier saga finish (reserved -> sold), so no event of it invalidates while we count.
    await expect.poll(async () => (await inventory.getStock({ sku: MUG.sku })).item?.reserved, { timeout: 20_000 }).toBe(0);
    const available = (await quote()).lines[0]?.available ?? -1;
    const loads = stockCache.stats().loads;
    for (let i = 0; i < 5; i++) expect((await quote()).lines[0]?.available).toBe(available);
    expect(stockCache.stats().loads).toBe(loads);

    await place(1, "buyer", [{ sku: MUG.sku, quantity: 3 }]);
    await expect.poll(async () => (await quote()).lines[0]?.available, { timeout: 20_000 }).toBe(available - 3);
    expect(stockCache.stats().invalidations).toBeGreaterThan(0);
  });

  it("limits CreateOrder per user across both replicas, with RetryInfo, pushback and retry-after", async () => {
    for (let i = 0; i < LIMIT; i++) await place(i % 2, "hasty");
    const refused = await failure(place(LIMIT % 2, "hasty"));
    expect(refused.code).toBe(Code.ResourceExhausted);
    expect(refused.rawMessage).toMatch(/^user hasty may place 3 orders per 60 s; retry in \d+ s$/);
    const delay = retryDelayMs(refused) ?? -1;
    expect(delay).toBeGreaterThan(0);
    expect(delay).toBeLessThanOrEqual(60_000);
    expect(Number(refused.metadata.get("grpc-retry-pushback-ms"))).toBe(delay);
    expect(Number(refused.metadata.get("retry-after"))).toBe(Math.ceil(delay / 1000));
    // The other replica counts the same window; another user is not limited.
    expect((await failure(place((LIMIT + 1) % 2, "hasty"))).code).toBe(Code.ResourceExhausted);
    expect((await place(0, "patient")).created).toBe(true);
  });

  it("with inventory down, places an order priced from the last answers and marks it; a basket never priced is refused", async () => {
    await inventoryReplica.stop();
    const headers = new Headers();
    const placed = await (orders[0] as Client<typeof OrdersService>).createOrder(
      { userId: "during-outage", items: [{ sku: MUG.sku, quantity: 2 }], idempotencyKey: `cache-${randomUUID()}`, currencyCode: "EUR" },
      { onHeader: (header) => header.forEach((value, key) => headers.set(key, value)) },
    );
    expect(placed.created).toBe(true);
    expect(placed.order).toMatchObject({ status: OrderStatus.PENDING, total: { amountMinor: 2n * MUG.unitPriceMinor } });
    expect(headers.get("quote-source")).toBe("cache");
    expect(Number(headers.get("quote-age-ms"))).toBeGreaterThanOrEqual(0);
    expect(Number(headers.get("quote-age-ms"))).toBeLessThanOrEqual(60_000);

    const refused = await failure(place(1, "during-outage", [{ sku: "NEVER-QUOTED", quantity: 1 }]));
    expect(refused.code).toBe(Code.Unavailable);
    expect(refused.rawMessage).toMatch(/^inventory is unavailable .*; the order was not placed, retry later$/);

    // The saga still decides: once inventory is back it reserves, payments captures, orders confirms.
    const port = inventoryReplica.address.split(":").at(-1) ?? "0";
    inventoryReplica = await start("inventory", { STOCK_CACHE_TTL_MS: "60000", PORT: port });
    await expect
      .poll(async () => (await (orders[1] as Client<typeof OrdersService>).getOrder({ orderId: placed.order?.orderId ?? "" })).order?.status, { timeout: 30_000 })
      .toBe(OrderStatus.CONFIRMED);
    // And orders prices from inventory again once its client reconnects.
    await expect
      .poll(
        async () => {
          let source: string | null = "none";
          await (orders[0] as Client<typeof OrdersService>)
            .createOrder({ userId: `after-outage-${randomUUID()}`, items: [{ sku: MUG.sku, quantity: 1 }], idempotencyKey: `cache-${randomUUID()}`, currencyCode: "EUR" }, { onHeader: (header) => (source = header.get("quote-source")) })
            .catch(() => undefined);
          return source;
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe(null);
  });

  it("gives the same answers with Redis killed and after it comes back empty", async () => {
    const { order } = await place(0, "through-outage");
    const orderId = order?.orderId ?? "";
    await expect.poll(async () => (await (orders[0] as Client<typeof OrdersService>).getOrder({ orderId })).order?.status, { timeout: 30_000 }).toBe(OrderStatus.CONFIRMED);
    const expected = (await (orders[1] as Client<typeof OrdersService>).getOrder({ orderId })).order;

    await redis.kill();
    const before = totalReads();
    for (let i = 0; i < 6; i++) expect((await (orders[i % 2] as Client<typeof OrdersService>).getOrder({ orderId })).order).toEqual(expected);
    // Every read went to the database instead: latency, not a different answer.
    expect(totalReads() - before).toBe(6);
    // Writes and status changes go on: a new order is placed and cancelled and reads show it.
    const { order: another } = await place(0, "through-outage");
    await (orders[0] as Client<typeof OrdersService>).cancelOrder({ orderId: another?.orderId ?? "" });
    expect((await (orders[1] as Client<typeof OrdersService>).getOrder({ orderId: another?.orderId ?? "" })).order?.status).toBe(OrderStatus.CANCELLED);

    await redis.start();
    // Back, empty: once both replicas have reconnected, reads are hits again.
    expect(await readsForSixGets(orderId, OrderStatus.CONFIRMED)).toBe(0);
    expect((await (orders[1] as Client<typeof OrdersService>).getOrder({ orderId })).order).toEqual(expected);
  });
});
