// saga: completed orders per second and end-to-end latency (CreateOrder called to the order
// CONFIRMED in the orders database) at a fixed offered load, against the limit derived from
// this machine's PostgreSQL commit rate and JetStream publish rate, both measured in the same
// run, for the transactions and publishes one saga needs. The three services run as in
// production (runService), each in its own process, on a private nats-server and throwaway
// databases on the shared PostgreSQL; the load generator drives them through the typed client.
import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { closeClient } from "@protomesh/clients";
import { createInventoryClient } from "../services/clients.js";
import { openDatabase } from "@protomesh/data";
import { orders } from "../services/orders/schema.js";
import type { ServiceName } from "../services/saga/topology.js";
import { createTestDatabase, freePort, startNatsServer, type TestDatabase } from "../test/helpers/index.js";
import { type Child, startChild } from "./harness/children.js";
import type { GcTotals } from "./harness/gc-time.js";
import type { OrderLoadReport, OrderLoadSpec } from "./harness/order-load.js";
import type { WriterReport, WriterSpec } from "./harness/outbox-writers.js";
import { round, summarize } from "./harness/stats.js";
import { measureRawPublish, startRelayBed } from "./relay.js";
import type { BenchSettings } from "./settings.js";

/**
 * What one saga that ends CONFIRMED costs, counted from the handlers:
 *  1. orders, CreateOrder: the order, its lines and OrderPlaced (services/orders/orders.ts);
 *  2. inventory, OrderPlaced: inbox, reservation, stock and StockReserved (inventory/reservations.ts);
 *  3. payments, StockReserved: inbox, charge, ledger and PaymentCaptured (payments/charges.ts);
 *  4. orders, StockReserved: inbox and the order's stock flag (orders/saga.ts);
 *  5. orders, PaymentCaptured: inbox, CONFIRMED and OrderConfirmed (orders/saga.ts);
 *  6. inventory, OrderConfirmed: inbox and reserved stock sold (inventory/reservations.ts).
 * Events published (services/saga/topology.ts): OrderPlaced, StockReserved, PaymentCaptured,
 * OrderConfirmed. Left out, so the limit is an upper bound: the relays' claim and mark
 * statements (one pair per round, shared by up to 100 events), the five deliveries and their
 * double acks, and the QuoteItems call.
 */
export const transactionsPerSaga = 6;
export const publishesPerSaga = 4;
/** Offered load when --rate is not given: the target's share of the derived limit. */
const defaultLoadShare = 0.3;
/** Window of each limit measurement, s (after the full warm-up), to keep the default run short. */
const limitWindowS = 4;
/** In start order; `Shop.servers` and the databases follow it. */
const shopServices = ["inventory", "payments", "orders"] as const;
const skus = Array.from({ length: 32 }, (_, i) => `BENCH-${String(i).padStart(3, "0")}`);

interface Sample extends GcTotals {
  cpuUs: number;
  rss: number;
}

interface Limit {
  commitsPerS: number;
  publishesPerS: number;
  limitPerS: number;
}

/** PostgreSQL commits/s (one-event outbox transactions, `writers` in flight) and JetStream publishes/s. */
async function measureLimit(full: BenchSettings): Promise<Limit> {
  const settings = { ...full, seconds: Math.min(full.seconds, limitWindowS) };
  const bed = await startRelayBed("bench_saga_limit");
  try {
    const node = await startChild("servers/relay-node.ts", [bed.nats.url, bed.database.url]);
    const raw = await measureRawPublish("saga", node, settings).finally(() => node.stop());
    const spec: WriterSpec = { mode: "live", databaseUrl: bed.database.url, writers: settings.writers, warmupS: settings.warmupS, seconds: settings.seconds };
    const writer = await startChild("harness/outbox-writers.ts", [JSON.stringify(spec)]);
    const commits = await writer.request<WriterReport>({ type: "run" }).finally(() => writer.stop());
    const commitsPerS = Math.round(commits.ids.length / commits.seconds);
    const limitPerS = round(Math.min(commitsPerS / transactionsPerSaga, raw.callsPerS / publishesPerSaga));
    return { commitsPerS, publishesPerS: raw.callsPerS, limitPerS };
  } finally {
    await bed.dispose();
  }
}

interface Shop {
  servers: Child[];
  ordersTarget: string;
  inventoryTarget: string;
  ordersDatabaseUrl: string;
  stop(): Promise<void>;
}

async function startShop(natsUrl: string): Promise<Shop> {
  const databases: TestDatabase[] = [];
  const servers: Child[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await Promise.all(databases.map((d) => d.drop()));
  };
  try {
    const ports = { inventory: await freePort(), payments: await freePort(), orders: await freePort() };
    const target = (service: ServiceName) => `127.0.0.1:${ports[service]}`;
    for (const service of shopServices) databases.push(await createTestDatabase(`bench_saga_${service}`));
    // All three start at once: orders' inventory client connects on its first call.
    const started = await Promise.all(
      shopServices.map((service, i) => {
        const env = {
          PORT: String(ports[service]),
          NATS_URL: natsUrl,
          DATABASE_URL: (databases[i] as TestDatabase).url,
          LOG_LEVEL: "warn",
          // No order may be cancelled for its deadline while the benchmark measures.
          ...(service === "orders" ? { INVENTORY_TARGET: target("inventory"), SAGA_DEADLINE_MS: "300000" } : {}),
        };
        return startChild("servers/shop-service.ts", [service, JSON.stringify(env)]);
      }),
    );
    servers.push(...started);
    return { servers, ordersTarget: target("orders"), inventoryTarget: target("inventory"), ordersDatabaseUrl: (databases[2] as TestDatabase).url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export async function saga(settings: BenchSettings): Promise<void> {
  const limit = await measureLimit(settings);
  console.error(`saga limit: ${limit.commitsPerS} commits/s / ${transactionsPerSaga}, ${limit.publishesPerS} publishes/s / ${publishesPerSaga} -> ${limit.limitPerS} sagas/s`);
  const ratePerS = settings.rate > 0 ? settings.rate : Math.max(1, round(limit.limitPerS * defaultLoadShare));
  const nats = await startNatsServer();
  let shop: Shop | undefined;
  try {
    shop = await startShop(nats.url);
    console.error(`saga: the three services are up; offering ${ratePerS} orders/s`);
    const inventory = createInventoryClient({ target: shop.inventoryTarget });
    for (const sku of skus) await inventory.setStock({ sku, name: `Bench item ${sku}`, available: 1_000_000, unitPrice: { currencyCode: "EUR", amountMinor: 1250n } });
    closeClient(inventory);

    const spec: OrderLoadSpec = { target: shop.ordersTarget, ratePerS, warmupS: settings.warmupS, seconds: settings.seconds, skus };
    const load = await startChild("harness/order-load.ts", [JSON.stringify(spec)]);
    const sample = () => Promise.all((shop as Shop).servers.map((s) => s.request<Sample>({ type: "sample" })));
    let report: OrderLoadReport;
    let before: Sample[];
    let after: Sample[];
    try {
      const opened = load.next("measuring");
      const closed = load.next("closed");
      const done = load.request<OrderLoadReport>({ type: "run" });
      await opened;
      before = await sample();
      await closed;
      after = await sample();
      report = await done;
    } finally {
      await load.stop();
    }

    // Every saga the window started gets time to end; what is still pending after that counts.
    const database = await openDatabase({ url: shop.ordersDatabaseUrl, applicationName: "bench-saga" });
    try {
      const placed = new Set(report.orderIds);
      const deadline = Date.now() + 30_000;
      let rows = await database.db.select({ orderId: orders.orderId, status: orders.status, updatedAt: orders.updatedAt }).from(orders);
      const windowRows = () => rows.filter((r) => placed.has(r.orderId));
      while (windowRows().some((r) => r.status === "pending") && Date.now() < deadline) {
        await sleep(500);
        rows = await database.db.select({ orderId: orders.orderId, status: orders.status, updatedAt: orders.updatedAt }).from(orders);
      }
      const byId = new Map(rows.map((r) => [r.orderId, r]));
      const endToEnd: number[] = [];
      report.orderIds.forEach((id, i) => {
        const row = byId.get(id);
        if (row?.status === "confirmed") endToEnd.push(row.updatedAt.getTime() - (report.startedAtMs[i] as number));
      });
      const completedInWindow = rows.filter((r) => r.status === "confirmed" && r.updatedAt.getTime() >= report.windowStartMs && r.updatedAt.getTime() < report.windowEndMs).length;
      const completedPerS = round(completedInWindow / report.seconds);
      const serverCpu = after.reduce((sum, a, i) => sum + a.cpuUs - (before[i] as Sample).cpuUs, 0);
      const statuses = windowRows().reduce<Record<string, number>>((counts, r) => ({ ...counts, [r.status]: (counts[r.status] ?? 0) + 1 }), {});
      const row = {
        bench: "saga",
        variant: "shop",
        offeredPerS: ratePerS,
        callsPerS: completedPerS,
        errors: report.errors,
        ...summarize(endToEnd),
        createOrderP99Ms: summarize(report.callMs).p99Ms,
        serverCpuUsPerCall: completedInWindow === 0 ? null : round(serverCpu / completedInWindow),
        serverCpuUsPerCallByService: Object.fromEntries(
          shopServices.map((service, i) => [service, completedInWindow === 0 ? null : round(((after[i] as Sample).cpuUs - (before[i] as Sample).cpuUs) / completedInWindow)]),
        ),
        clientCpuUsPerCall: report.orderIds.length === 0 ? 0 : round(report.cpuUs / report.orderIds.length),
        serverRssMiB: round(after.reduce((sum, a) => sum + a.rss, 0) / after.length / 2 ** 20),
        gcMsPerS: round(after.reduce((sum, a, i) => sum + a.gcMs - (before[i] as Sample).gcMs, 0) / report.seconds),
        load1: round(loadavg()[0] ?? 0, 2),
        placedInWindow: placed.size,
        windowOrders: statuses,
        ...(report.errors > 0 ? { errorKinds: report.errorKinds } : {}),
      };
      console.error(`saga: ${completedPerS} completed/s at ${ratePerS} offered, end-to-end p99 ${row.p99Ms} ms`);
      console.log(JSON.stringify({ bench: "saga", variant: "limit", ...limit, transactionsPerSaga, publishesPerSaga, load1: round(loadavg()[0] ?? 0, 2) }));
      console.log(JSON.stringify({ ...row, anchor: "limit", ratio: { callsPerS: round(completedPerS / limit.limitPerS, 3) }, target: ">= 0.3" }));
    } finally {
      await database.close();
    }
  } finally {
    await shop?.stop();
    await nats.dispose();
  }
}
