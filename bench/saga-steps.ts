// saga-steps: the database work of one saga that ends CONFIRMED, without the broker, the RPCs or
// the relays: CreateOrder's use case (prices from a fixed quote) and the five handler
// transactions with their inbox records, called one after another per order from `concurrency`
// loops in this process. Variant `postgres`: three throwaway databases on the shared PostgreSQL;
// reports this process's CPU, the PostgreSQL backends' CPU and the SQL round trips per saga.
// Variant `pglite`: three in-memory PGlite databases as openDatabase opens them with no URL (the
// embedded default), so this process's CPU is all of it. The part of the shop's cost that the
// services' use cases and the kit's data layer, outbox and inbox decide, measured with much less
// noise than the whole shop on a busy host. `--only postgres` or `--only pglite` runs one.
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { loadavg } from "node:os";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { type Database, openDatabase } from "@protomesh/data";
import { applyOnce } from "@protomesh/messaging";
import { QuoteItemsResponseSchema } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { StockReservedSchema } from "protomesh/gen/shop/inventory/v1/events_pb";
import { OrderConfirmedSchema, OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { PaymentCapturedSchema } from "protomesh/gen/shop/payments/v1/events_pb";
import { createReservationHandlers } from "../services/inventory/reservations.js";
import { stockItems } from "../services/inventory/schema.js";
import { createOrders } from "../services/orders/orders.js";
import { createSagaHandlers } from "../services/orders/saga.js";
import { createChargeHandlers } from "../services/payments/charges.js";
import { createPaymentSimulator } from "../services/payments/domain/payment-simulator.js";
import { createTestDatabase, type TestDatabase } from "../test/helpers/index.js";
import { backendCpuBetween, sampleBackendCpu } from "./harness/postgres-cpu.js";
import { countQueries, queryTotals } from "./harness/query-count.js";
import { round } from "./harness/stats.js";
import type { BenchSettings } from "./settings.js";

const services = ["inventory", "payments", "orders"] as const;
const migrations = (service: string) => fileURLToPath(new URL(`../services/${service}/migrations`, import.meta.url));
const skus = Array.from({ length: 32 }, (_, i) => `STEP-${String(i).padStart(3, "0")}`);
const unitPrice = { currencyCode: "EUR", amountMinor: 1250n };

export async function sagaSteps(settings: BenchSettings): Promise<void> {
  countQueries();
  if (settings.only.length === 0 || settings.only.includes("postgres")) {
    const targets: TestDatabase[] = [];
    try {
      for (const service of services) targets.push(await createTestDatabase(`bench_steps_${service}`));
      const names = targets.map((t) => t.name);
      await runSteps(settings, "postgres", (i, service) => openDatabase({ url: (targets[i] as TestDatabase).url, migrationsFolder: migrations(service), poolSize: settings.writers }), {
        sample: (db) => sampleBackendCpu(db, names),
        cpuUs: (before, after) => names.reduce((sum, name) => sum + backendCpuBetween(before, after, name).cpuUs, 0),
      });
    } finally {
      await Promise.all(targets.map((t) => t.drop()));
    }
  }
  if (settings.only.length === 0 || settings.only.includes("pglite")) {
    await runSteps(settings, "pglite", (_i, service) => openDatabase({ migrationsFolder: migrations(service) }), undefined);
  }
}

/** How the database server's own CPU is read, where it runs apart from this process. */
interface ServerCpu<T> {
  sample(db: Database["db"]): Promise<T>;
  cpuUs(before: T, after: T): number;
}

async function runSteps<T>(settings: BenchSettings, variant: string, open: (index: number, service: string) => Promise<Database>, serverCpu: ServerCpu<T> | undefined): Promise<void> {
  const load1AtStart = round(loadavg()[0] ?? 0, 2);
  const opened: Database[] = [];
  try {
    for (const [i, service] of services.entries()) opened.push(await open(i, service));
    const [inventoryDb, paymentsDb, ordersDb] = opened as [Database, Database, Database];
    const now = new Date();
    await inventoryDb.db.insert(stockItems).values(skus.map((sku) => ({ sku, name: sku, available: 1_000_000, currencyCode: "EUR", unitPriceMinor: unitPrice.amountMinor, updatedAt: now })));

    const reservations = createReservationHandlers();
    const charges = createChargeHandlers(createPaymentSimulator());
    const saga = createSagaHandlers();
    let n = 0;
    const orders = createOrders(
      ordersDb.db,
      async (request) => create(QuoteItemsResponseSchema, { lines: (request.items ?? []).map((item) => ({ sku: item.sku ?? "", quantity: item.quantity ?? 0, unitPrice, available: 1_000_000, sufficient: true, known: true })), allAvailable: true }),
      { sagaDeadlineMs: 300_000 },
    );
    const oneSaga = async () => {
      const sku = skus[n++ % skus.length] as string;
      const { order } = await orders.createOrder({ $typeName: "shop.orders.v1.CreateOrderRequest", userId: `user-${n % 97}`, items: [{ $typeName: "shop.orders.v1.OrderItem", sku, quantity: 1 }], idempotencyKey: randomUUID(), currencyCode: "EUR" } as never);
      const orderId = order.orderId;
      const common = () => ({ eventId: randomUUID(), orderId, occurredAt: timestampNow() });
      const lines = [{ sku, quantity: 1 }];
      const placed = create(OrderPlacedSchema, { ...common(), userId: "u", lines: lines.map((line) => ({ ...line, unitPrice })), total: unitPrice });
      await applyOnce(inventoryDb.db, { consumer: "inventory", eventId: placed.eventId }, (tx) => reservations.orderPlaced(tx, placed));
      const reserved = create(StockReservedSchema, { ...common(), lines, userId: "u", amount: unitPrice });
      await applyOnce(paymentsDb.db, { consumer: "payments", eventId: reserved.eventId }, (tx) => charges.stockReserved(tx, reserved));
      await applyOnce(ordersDb.db, { consumer: "orders-reserved", eventId: reserved.eventId }, (tx) => saga.stockReserved(tx, reserved));
      const captured = create(PaymentCapturedSchema, { ...common(), paymentId: randomUUID(), amount: unitPrice });
      await applyOnce(ordersDb.db, { consumer: "orders-captured", eventId: captured.eventId }, (tx) => saga.paymentCaptured(tx, captured));
      const confirmed = create(OrderConfirmedSchema, { ...common(), paymentId: captured.paymentId });
      await applyOnce(inventoryDb.db, { consumer: "inventory", eventId: confirmed.eventId }, (tx) => reservations.orderConfirmed(tx, confirmed));
    };
    const runFor = async (seconds: number) => {
      let done = 0;
      const until = Date.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: settings.concurrency }, async () => {
          while (Date.now() < until) {
            await oneSaga();
            done++;
          }
        }),
      );
      return done;
    };
    await runFor(settings.warmupS);
    const [serverBefore, queriesBefore, cpuBefore] = [await serverCpu?.sample(inventoryDb.db), queryTotals(), process.cpuUsage()];
    const started = Date.now();
    const sagas = await runFor(settings.seconds);
    const cpu = process.cpuUsage(cpuBefore);
    const seconds = (Date.now() - started) / 1000;
    const [serverAfter, queriesAfter] = [await serverCpu?.sample(inventoryDb.db), queryTotals()];
    console.log(
      JSON.stringify({
        bench: "saga-steps",
        variant,
        sagasPerS: round(sagas / seconds),
        concurrency: settings.concurrency,
        nodeCpuUsPerSaga: round((cpu.user + cpu.system) / sagas),
        ...(serverCpu === undefined || serverBefore === undefined || serverAfter === undefined
          ? {}
          : {
              postgresCpuUsPerSaga: round(serverCpu.cpuUs(serverBefore, serverAfter) / sagas),
              // Counted at node-postgres: PGlite's statements do not pass it.
              roundTripsPerSaga: round((queriesAfter.roundTrips - queriesBefore.roundTrips) / sagas, 2),
              byKind: Object.fromEntries(Object.entries(queriesAfter.byKind).map(([kind, count]) => [kind, round((count - (queriesBefore.byKind[kind] ?? 0)) / sagas, 2)]).filter(([, count]) => (count as number) > 0)),
            }),
        load1AtStart,
        load1: round(loadavg()[0] ?? 0, 2),
      }),
    );
  } finally {
    await Promise.all(opened.map((d) => d.close()));
  }
}
