// saga: what one order's saga costs and how many the shop sustains. The three services run as
// in production (runService), each in its own process, on a private nats-server and throwaway
// databases on the shared PostgreSQL; the load generator drives them through the typed client
// at a sweep of offered loads, one phase per rate on the same services. Per phase: completed
// sagas/s (orders turned CONFIRMED in the window), end-to-end latency (CreateOrder called to
// CONFIRMED in the orders database), each service's CPU per completed saga (its own
// process.cpuUsage), the SQL it sent per saga (counted at the driver, harness/query-count.ts),
// its PostgreSQL backends' CPU per saga (/proc), and the load average. The limit they are
// compared with is derived from this machine's PostgreSQL commit rate and JetStream publish
// rate, both measured in the same run, for the transactions and publishes one saga needs.
import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { and, count, eq, gte, inArray, lt } from "drizzle-orm";
import { closeClient } from "@protomesh/clients";
import { createInventoryClient } from "../services/clients.js";
import { type Database, openDatabase } from "@protomesh/data";
import { orders } from "../services/orders/schema.js";
import type { ServiceName } from "../services/saga/topology.js";
import { createTestDatabase, freePort, startNatsServer, type TestDatabase } from "../test/helpers/index.js";
import { type Child, startChild } from "./harness/children.js";
import type { GcTotals } from "./harness/gc-time.js";
import type { OrderLoadReport, OrderLoadSpec } from "./harness/order-load.js";
import type { WriterReport, WriterSpec } from "./harness/outbox-writers.js";
import { backendCpuBetween, sampleBackendCpu } from "./harness/postgres-cpu.js";
import type { QueryTotals } from "./harness/query-count.js";
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
/** Warm-up of every phase after the first, s: the services are warm, the new rate's queues are not. */
const phaseWarmupS = 3;
/** Longest wait, s, for the orders of a phase to finish before the next phase starts. */
const drainLimitS = 60;
/** A phase sustains its rate when this share of it completes in the window… */
const sustainedShare = 0.95;
/** …and the end-to-end p99 stays within this, ms (issue 20's target). */
const sustainedP99Ms = 500;
/** Window of each limit measurement, s (after the full warm-up), to keep the default run short. */
const limitWindowS = 4;
/** In start order; `Shop.servers` and the databases follow it. */
const shopServices = ["inventory", "payments", "orders"] as const;
const skus = Array.from({ length: 32 }, (_, i) => `BENCH-${String(i).padStart(3, "0")}`);

interface Sample extends GcTotals {
  cpuUs: number;
  rss: number;
  queries: QueryTotals;
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
  /** Database names in `shopServices` order. */
  databaseNames: string[];
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
    return { servers, ordersTarget: target("orders"), inventoryTarget: target("inventory"), ordersDatabaseUrl: (databases[2] as TestDatabase).url, databaseNames: databases.map((d) => d.name), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

const perService = <T>(value: (service: (typeof shopServices)[number], i: number) => T) => Object.fromEntries(shopServices.map((service, i) => [service, value(service, i)]));

function queriesBetween(before: QueryTotals, after: QueryTotals, sagas: number) {
  const byKind = Object.fromEntries(
    Object.entries(after.byKind)
      .map(([kind, n]) => [kind, round((n - (before.byKind[kind] ?? 0)) / sagas, 2)] as const)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1]),
  );
  return { roundTrips: round((after.roundTrips - before.roundTrips) / sagas, 2), statements: round((after.statements - before.statements) / sagas, 2), byKind };
}

/** Waits until no order is pending (bounded); returns the seconds it took, or null if it gave up. */
async function drain(database: Database): Promise<number | null> {
  const started = Date.now();
  for (;;) {
    const [row] = await database.db.select({ n: count() }).from(orders).where(eq(orders.status, "pending"));
    if ((row?.n ?? 0) === 0) return round((Date.now() - started) / 1000);
    if (Date.now() - started > drainLimitS * 1000) return null;
    await sleep(250);
  }
}

/** One phase: `ratePerS` offered for the warm-up and the window, then the drain. Returns its JSON row. */
async function runPhase(shop: Shop, database: Database, ratePerS: number, warmupS: number, seconds: number) {
  const load1AtStart = round(loadavg()[0] ?? 0, 2);
  const spec: OrderLoadSpec = { target: shop.ordersTarget, ratePerS, warmupS, seconds, skus };
  const load = await startChild("harness/order-load.ts", [JSON.stringify(spec)]);
  const sample = () => Promise.all(shop.servers.map((s) => s.request<Sample>({ type: "sample" })));
  const sampleBackends = () => sampleBackendCpu(database.db, shop.databaseNames);
  let report: OrderLoadReport;
  let before: Sample[];
  let after: Sample[];
  let backendsBefore: Awaited<ReturnType<typeof sampleBackends>>;
  let backendsAfter: Awaited<ReturnType<typeof sampleBackends>>;
  try {
    const opened = load.next("measuring");
    const closed = load.next("closed");
    const done = load.request<OrderLoadReport>({ type: "run" });
    await opened;
    [before, backendsBefore] = await Promise.all([sample(), sampleBackends()]);
    await closed;
    [after, backendsAfter] = await Promise.all([sample(), sampleBackends()]);
    report = await done;
  } finally {
    await load.stop();
  }
  const [pendingAtClose] = await database.db.select({ n: count() }).from(orders).where(eq(orders.status, "pending"));
  // Every saga the window started gets time to end; what is still pending after that counts.
  const drainS = await drain(database);
  const placed = report.orderIds.filter((id) => id !== "");
  const rows = placed.length === 0 ? [] : await database.db.select({ orderId: orders.orderId, status: orders.status, updatedAt: orders.updatedAt }).from(orders).where(inArray(orders.orderId, placed));
  const byId = new Map(rows.map((r) => [r.orderId, r]));
  const endToEnd: number[] = [];
  report.orderIds.forEach((id, i) => {
    const row = byId.get(id);
    if (row?.status === "confirmed") endToEnd.push(row.updatedAt.getTime() - (report.startedAtMs[i] as number));
  });
  const [completed] = await database.db
    .select({ n: count() })
    .from(orders)
    .where(and(eq(orders.status, "confirmed"), gte(orders.updatedAt, new Date(report.windowStartMs)), lt(orders.updatedAt, new Date(report.windowEndMs))));
  const completedInWindow = completed?.n ?? 0;
  const completedPerS = round(completedInWindow / report.seconds);
  const sagas = Math.max(1, completedInWindow);
  const cpuUs = perService((_, i) => (after[i] as Sample).cpuUs - (before[i] as Sample).cpuUs);
  const totalCpuUs = Object.values(cpuUs).reduce((a, b) => a + b, 0);
  const sql = perService((_, i) => queriesBetween((before[i] as Sample).queries, (after[i] as Sample).queries, sagas));
  const backends = perService((_, i) => backendCpuBetween(backendsBefore, backendsAfter, shop.databaseNames[i] as string));
  const statuses = rows.reduce<Record<string, number>>((counts, r) => ({ ...counts, [r.status]: (counts[r.status] ?? 0) + 1 }), {});
  const latency = summarize(endToEnd);
  return {
    bench: "saga",
    variant: "shop",
    offeredPerS: ratePerS,
    callsPerS: completedPerS,
    sustained: report.errors === 0 && completedPerS >= sustainedShare * ratePerS && latency.p99Ms <= sustainedP99Ms,
    errors: report.errors,
    ...latency,
    createOrderP99Ms: summarize(report.callMs).p99Ms,
    cpuUsPerSaga: { ...perService((service) => round(cpuUs[service] as number / sagas)), total: round(totalCpuUs / sagas) },
    sqlPerSaga: {
      ...sql,
      total: {
        roundTrips: round(Object.values(sql).reduce((n, q) => n + q.roundTrips, 0), 2),
        statements: round(Object.values(sql).reduce((n, q) => n + q.statements, 0), 2),
      },
    },
    postgresCpuUsPerSaga: {
      ...perService((service) => round(backends[service]?.cpuUs as number / sagas)),
      total: round(Object.values(backends).reduce((n, b) => n + b.cpuUs, 0) / sagas),
    },
    ...(Object.values(backends).some((b) => b.lostBackends > 0) ? { postgresBackendsLost: perService((service) => backends[service]?.lostBackends) } : {}),
    clientCpuUsPerCall: report.orderIds.length === 0 ? 0 : round(report.cpuUs / report.orderIds.length),
    serverRssMiB: round(after.reduce((sum, a) => sum + a.rss, 0) / after.length / 2 ** 20),
    gcMsPerS: round(after.reduce((sum, a, i) => sum + a.gcMs - (before[i] as Sample).gcMs, 0) / report.seconds),
    load1AtStart,
    load1: round(loadavg()[0] ?? 0, 2),
    warmupS,
    seconds,
    placedInWindow: placed.length,
    pendingAtClose: pendingAtClose?.n ?? 0,
    drainS,
    windowOrders: statuses,
    ...(report.errors > 0 ? { errorKinds: report.errorKinds } : {}),
  };
}

export async function saga(settings: BenchSettings): Promise<void> {
  const load1AtStart = round(loadavg()[0] ?? 0, 2);
  const limit = await measureLimit(settings);
  console.error(`saga limit: ${limit.commitsPerS} commits/s / ${transactionsPerSaga}, ${limit.publishesPerS} publishes/s / ${publishesPerSaga} -> ${limit.limitPerS} sagas/s`);
  console.log(JSON.stringify({ bench: "saga", variant: "limit", ...limit, transactionsPerSaga, publishesPerSaga, load1AtStart, load1: round(loadavg()[0] ?? 0, 2) }));
  const rates = settings.rate > 0 ? [settings.rate] : [...settings.rates];
  const nats = await startNatsServer();
  let shop: Shop | undefined;
  let database: Database | undefined;
  try {
    shop = await startShop(nats.url);
    console.error(`saga: the three services are up; offering ${rates.join(", ")} orders/s`);
    const inventory = createInventoryClient({ target: shop.inventoryTarget });
    for (const sku of skus) await inventory.setStock({ sku, name: `Bench item ${sku}`, available: 1_000_000, unitPrice: { currencyCode: "EUR", amountMinor: 1250n } });
    closeClient(inventory);
    database = await openDatabase({ url: shop.ordersDatabaseUrl, applicationName: "bench-saga" });

    const phases = [];
    for (const [i, ratePerS] of rates.entries()) {
      const row = await runPhase(shop, database, ratePerS, i === 0 ? settings.sagaWarmupS : Math.min(phaseWarmupS, settings.warmupS), settings.seconds);
      console.error(
        `saga: ${row.callsPerS} completed/s at ${ratePerS} offered, end-to-end p50 ${row.p50Ms} ms p99 ${row.p99Ms} ms, ` +
          `CPU ${round(row.cpuUsPerSaga.total / 1000, 2)} ms/saga, ${row.sqlPerSaga.total.roundTrips} round trips/saga, load ${row.load1AtStart}`,
      );
      console.log(JSON.stringify({ ...row, anchor: "limit", ratio: { callsPerS: round(row.callsPerS / limit.limitPerS, 3) } }));
      phases.push(row);
    }
    const sustained = phases.filter((p) => p.sustained).sort((a, b) => b.offeredPerS - a.offeredPerS)[0];
    const at50 = phases.find((p) => p.offeredPerS === 50);
    console.log(
      JSON.stringify({
        bench: "saga",
        variant: "sweep",
        limitPerS: limit.limitPerS,
        sustainedPerS: sustained?.callsPerS ?? 0,
        sustainedAtOfferedPerS: sustained?.offeredPerS ?? null,
        sustainedP99Ms: sustained?.p99Ms ?? null,
        ratio: { sustainedPerS: round((sustained?.callsPerS ?? 0) / limit.limitPerS, 3) },
        cpuUsPerSagaAtSustained: sustained?.cpuUsPerSaga ?? null,
        ...(at50 === undefined ? {} : { p99MsAt50: at50.p99Ms }),
        target: { cpuUsPerSaga: "<= 8000", sustainedPerS: `>= 150 with p99 <= ${sustainedP99Ms} ms`, ratio: ">= 0.45", p99MsAt50: "<= 100" },
        load1AtStart,
        load1: round(loadavg()[0] ?? 0, 2),
      }),
    );
  } finally {
    await database?.close();
    await shop?.stop();
    await nats.dispose();
  }
}
