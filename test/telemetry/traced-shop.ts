// The three services in this process, each through the production host with its own telemetry:
// spans into an in-memory exporter per service, metrics on a Prometheus endpoint per service.
// Private nats-server, throwaway PostgreSQL databases on the shared server.
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { InventoryService } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { OrdersService } from "protomesh/gen/shop/orders/v1/orders_pb";
import { runService, type RunningService } from "../../services/host/run-service.js";
import { loadInventoryConfig } from "../../services/inventory/config.js";
import { inventoryService } from "../../services/inventory/service.js";
import { loadOrdersConfig } from "../../services/orders/config.js";
import { ordersService } from "../../services/orders/service.js";
import { loadPaymentsConfig } from "../../services/payments/config.js";
import { paymentsService } from "../../services/payments/service.js";
import type { ServiceName } from "../../services/saga/topology.js";
import { createTestDatabase, freePort, startNatsServer, type NatsServer, type TestDatabase } from "../helpers/index.js";

/** The orders service's saga outcomes, as a deployment declares them. */
export const orderSagaOutcomes = {
  "shop.orders.v1.OrderConfirmed": "confirmed",
  "shop.orders.v1.OrderCancelled": "cancelled",
} as const;

export interface TracedShop {
  nats: NatsServer;
  services: Record<ServiceName, RunningService>;
  orders: Client<typeof OrdersService>;
  inventory: Client<typeof InventoryService>;
  /** Every span the three services finished so far. */
  spans(): Promise<ReadableSpan[]>;
  stop(): Promise<void>;
}

export async function startTracedShop(): Promise<TracedShop> {
  const nats = await startNatsServer();
  const databases: TestDatabase[] = [];
  const exporters: InMemorySpanExporter[] = [];
  const started: RunningService[] = [];
  const start = async (name: ServiceName, environment: Record<string, string>, sagaOutcomes?: Record<string, string>) => {
    const database = await createTestDatabase(`telemetry_${name}`);
    databases.push(database);
    const env = { LOG_LEVEL: "warn", PORT: "0", NATS_URL: nats.url, DATABASE_URL: database.url, ...environment };
    const exporter = new InMemorySpanExporter();
    exporters.push(exporter);
    const definition = name === "inventory" ? inventoryService(loadInventoryConfig(env)) : name === "payments" ? paymentsService(loadPaymentsConfig(env)) : ordersService(loadOrdersConfig(env));
    const running = await runService({ ...definition, ...(sagaOutcomes === undefined ? {} : { sagaOutcomes }) }, { telemetry: { spanExporter: exporter, metricsPort: await freePort() } });
    started.push(running);
    return running;
  };
  try {
    const inventory = await start("inventory", {});
    const payments = await start("payments", {});
    const orders = await start("orders", { INVENTORY_TARGET: inventory.address }, orderSagaOutcomes);
    const client = <S extends typeof OrdersService | typeof InventoryService>(service: S, running: RunningService) =>
      createClient(service, createGrpcTransport({ baseUrl: `http://${running.address}` }));
    return {
      nats,
      services: { orders, inventory, payments },
      orders: client(OrdersService, orders),
      inventory: client(InventoryService, inventory),
      async spans() {
        await Promise.all(started.map((s) => s.telemetry.forceFlush()));
        return exporters.flatMap((e) => e.getFinishedSpans());
      },
      stop: () => stopAll(started, databases, nats),
    };
  } catch (error) {
    await stopAll(started, databases, nats);
    throw error;
  }
}

async function stopAll(started: RunningService[], databases: TestDatabase[], nats: NatsServer): Promise<void> {
  for (const running of started.reverse()) await running.stop();
  await nats.dispose();
  for (const database of databases) await database.drop();
}
