// WatchOrder at scale against the orders service as the host runs it, on PostgreSQL, with
// thousands of streams over a few HTTP/2 connections: the statements orders sends to its
// database must not grow with the number of watchers (ADR 0125), every watcher must still see
// every status change through to a terminal one, and a change whose notification was lost must
// reach every watcher once the listener reconnects. Payments does not run, so orders stay
// pending until the test changes them.
import { randomUUID } from "node:crypto";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InventoryService } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { OrderStatus, OrdersService } from "protomesh/gen/shop/orders/v1/orders_pb";
import type { RunningService } from "../../services/host/run-service.js";
import { createTestDatabase, startNatsServer, type NatsServer, type TestDatabase } from "../helpers/index.js";
import { cleanUp, grpcClient, serviceStorage, startService, startTimeoutMs, type ServiceStorage } from "./rpc-helpers.js";

const ORDERS_PER_ROUND = 10;
const CONNECTIONS = 8;
const { PENDING, CANCELLED } = OrderStatus;

interface Counts {
  statements: number;
  /** Statements that read the orders table (WatchOrder's reads among them). */
  orderReads: number;
}

/**
 * Counts the statements the orders service's pool sends to `database`, by wrapping
 * `pg.Client#query` in this process; its LISTEN connection and the test's own are not counted.
 */
function countStatements(database: string) {
  const counts: Counts = { statements: 0, orderReads: 0 };
  const prototype = pg.Client.prototype as unknown as { query: (this: pg.Client, ...args: unknown[]) => unknown };
  const original = prototype.query;
  prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const { connectionParameters } = this as unknown as { connectionParameters: { database?: string; application_name?: string } };
    if (connectionParameters.database === database && connectionParameters.application_name === "orders") {
      const [config] = args;
      const text = typeof config === "string" ? config : ((config as { text?: string } | undefined)?.text ?? "");
      counts.statements++;
      if (/^select\b[\s\S]*\bfrom "orders"/i.test(text)) counts.orderReads++;
    }
    return original.apply(this, args);
  };
  return {
    snapshot: (): Counts => ({ ...counts }),
    restore: () => {
      prototype.query = original;
    },
  };
}

const since = (before: Counts, after: Counts): Counts => ({ statements: after.statements - before.statements, orderReads: after.orderReads - before.orderReads });

/** One WatchOrder stream read to its end in the background. */
function watchOrder(orders: Client<typeof OrdersService>, orderId: string) {
  const statuses: OrderStatus[] = [];
  let sawFirst: () => void = () => undefined;
  const first = new Promise<void>((resolve) => (sawFirst = resolve));
  const done = (async () => {
    for await (const { order } of orders.watchOrder({ orderId }, { timeoutMs: 120_000 })) {
      if (order !== undefined) statuses.push(order.status);
      sawFirst();
    }
    return statuses;
  })();
  // A stream that fails before its first message fails `first` too.
  return { statuses, first: Promise.race([first, done.then(() => undefined)]), done };
}

describe("WatchOrder with thousands of watchers on PostgreSQL", () => {
  let nats: NatsServer;
  let ordersDb: TestDatabase;
  let inventoryStore: ServiceStorage;
  let admin: pg.Client;
  let counter: ReturnType<typeof countStatements>;
  const running: RunningService[] = [];
  let clients: Client<typeof OrdersService>[];

  beforeAll(async () => {
    nats = await startNatsServer();
    ordersDb = await createTestDatabase("watch_load_orders");
    inventoryStore = await serviceStorage("postgres", "inventory");
    const inventory = await startService("inventory", { ...inventoryStore.env, NATS_URL: nats.url });
    running.push(inventory);
    // No sweep and no resync during the test: what is counted is WatchOrder's and the changes' own work.
    const orders = await startService("orders", {
      DATABASE_URL: ordersDb.url,
      NATS_URL: nats.url,
      INVENTORY_TARGET: inventory.address,
      SAGA_DEADLINE_MS: "600000",
      SAGA_SWEEP_INTERVAL_MS: "600000",
      WATCH_ORDER_RESYNC_INTERVAL_MS: "600000",
      // 250 watches per connection, all from one caller: past the server's default bounds (100
      // streams and 50 streaming calls per connection, 500 per caller), which this test is not about.
      SERVER_MAX_STREAMS_PER_CONNECTION: "1000",
      SERVER_MAX_STREAMING_CALLS_PER_CONNECTION: "1000",
      SERVER_MAX_STREAMING_CALLS_PER_CALLER: "5000",
    });
    running.push(orders);
    await grpcClient(InventoryService, inventory).setStock({ sku: "MUG-1", name: "Mug", available: 1_000_000, unitPrice: { currencyCode: "EUR", amountMinor: 1250n } });
    // A transport each: a connection each.
    clients = Array.from({ length: CONNECTIONS }, () => createClient(OrdersService, createGrpcTransport({ baseUrl: `http://${orders.address}` })));
    admin = new pg.Client({ connectionString: ordersDb.url, application_name: "watch-load-test" });
    await admin.connect();
    counter = countStatements(ordersDb.name);
  }, 2 * startTimeoutMs);

  afterAll(async () => {
    counter?.restore();
    await cleanUp([() => admin?.end(), ...running.reverse().map((service) => () => service.stop()), () => ordersDb?.drop(), () => inventoryStore?.drop(), () => nats?.dispose()]);
  });

  /** Pending orders whose stock is reserved: the saga waits for payments from here on, touching nothing. */
  async function placeOrders(): Promise<string[]> {
    const userId = `watcher-${randomUUID()}`;
    const orderIds = await Promise.all(
      Array.from({ length: ORDERS_PER_ROUND }, async () => {
        const { order } = await (clients[0] as Client<typeof OrdersService>).createOrder({ userId, idempotencyKey: randomUUID(), items: [{ sku: "MUG-1", quantity: 1 }], currencyCode: "EUR" });
        return order?.orderId ?? "";
      }),
    );
    await expect
      .poll(async () => (await admin.query<{ n: number }>("select count(*)::int as n from orders where order_id = any($1) and stock_reserved", [orderIds])).rows[0]?.n, { timeout: 30_000 })
      .toBe(ORDERS_PER_ROUND);
    return orderIds;
  }

  /** `watchers` streams over the orders, spread over the connections; waits for each one's first message. */
  async function watchAll(orderIds: string[], watchers: number) {
    const streams = Array.from({ length: watchers }, (_, i) => watchOrder(clients[i % CONNECTIONS] as Client<typeof OrdersService>, orderIds[i % orderIds.length] as string));
    await Promise.all(streams.map((stream) => stream.first));
    return streams;
  }

  /** Watchers join, every order is cancelled, every watcher sees it; what orders sent its database meanwhile. */
  async function round(watchers: number) {
    const orderIds = await placeOrders();
    const before = counter.snapshot();
    const startedAt = performance.now();
    const streams = await watchAll(orderIds, watchers);
    await Promise.all(orderIds.map((orderId) => (clients[1] as Client<typeof OrdersService>).cancelOrder({ orderId })));
    const seen = await Promise.all(streams.map((stream) => stream.done));
    return { seen, ms: Math.round(performance.now() - startedAt), ...since(before, counter.snapshot()) };
  }

  it("sends as many statements to the database for 2,000 watchers as for 10, and every watcher sees its order cancelled", async () => {
    const few = await round(10);
    const many = await round(2_000);
    console.info(`WatchOrder rounds: 10 watchers ${JSON.stringify({ ...few, seen: undefined })}; 2000 watchers ${JSON.stringify({ ...many, seen: undefined })}`);
    for (const { seen } of [few, many]) for (const statuses of seen) expect(statuses).toEqual([PENDING, CANCELLED]);
    expect(many.seen).toHaveLength(2_000);
    // A read per watcher would be at least 2,000 order reads; the same order of magnitude as 10 watchers is the claim.
    expect(many.orderReads).toBeLessThan(3 * few.orderReads);
    expect(many.statements).toBeLessThan(3 * few.statements);
  }, 180_000);

  it("brings a change whose notification was lost to 1,000 watchers once the listener reconnects, in one read", async () => {
    const orderIds = await placeOrders();
    const streams = await watchAll(orderIds, 1_000);
    // Cancelled behind the service's back: no NOTIFY, as if it was sent while the listener was away.
    await admin.query("update orders set status = 'cancelled', cancellation_cause = 'customer-requested', updated_at = now() where order_id = any($1)", [orderIds]);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(streams.filter((stream) => stream.statuses.length > 1)).toHaveLength(0);

    const before = counter.snapshot();
    const terminated = await admin.query<{ n: number }>(
      "select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and application_name = 'orders:listen'",
    );
    // WatchOrder's listener and the outbox relay's.
    expect(terminated.rows[0]?.n).toBe(2);
    const seen = await Promise.all(streams.map((stream) => stream.done));
    const cost = since(before, counter.snapshot());
    console.info(`after the listener reconnected: ${JSON.stringify(cost)} for 1000 watchers of ${ORDERS_PER_ROUND} orders`);
    for (const statuses of seen) expect(statuses).toEqual([PENDING, CANCELLED]);
    // One batch for every watcher: the orders, then their lines (the relay may poll meanwhile).
    expect(cost.orderReads).toBe(1);
  }, 120_000);
});
