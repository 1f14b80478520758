// Runs the whole shop in this process for saga tests: each service through the same host as
// production (runService), on its own throwaway PostgreSQL database, against a private
// nats-server. Replicas of a service share its database.
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { InventoryService } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { OrdersService } from "protomesh/gen/shop/orders/v1/orders_pb";
import { PaymentsService } from "protomesh/gen/shop/payments/v1/payments_pb";
import { openDatabase, type Database } from "protomesh/kit/data";
import { runService, type RunningService } from "../../services/kit/host/run-service.js";
import { loadInventoryConfig } from "../../services/inventory/config.js";
import { inventoryService } from "../../services/inventory/service.js";
import { loadOrdersConfig } from "../../services/orders/config.js";
import { ordersService } from "../../services/orders/service.js";
import { loadPaymentsConfig } from "../../services/payments/config.js";
import { paymentsService } from "../../services/payments/service.js";
import type { ServiceName } from "../../services/saga/topology.js";
import { checkInvariants, type InvariantReport } from "../checker/invariants.js";
import { createTestDatabase, startNatsServer, type NatsServer, type TestDatabase } from "../helpers/index.js";

export interface ShopOptions {
  replicas?: number;
  sagaDeadlineMs?: number;
  payments?: Record<string, string>;
}

export interface Shop {
  nats: NatsServer;
  replicas: Record<ServiceName, RunningService[]>;
  orders: Client<typeof OrdersService>;
  inventory: Client<typeof InventoryService>;
  payments: Client<typeof PaymentsService>;
  /** Starts one more replica of a service (or restarts a stopped one's slot). */
  startReplica(service: ServiceName): Promise<RunningService>;
  check(): Promise<InvariantReport>;
  stop(): Promise<void>;
}

const quiet = { LOG_LEVEL: "warn", SAGA_SWEEP_INTERVAL_MS: "200" };

export async function startShop(options: ShopOptions = {}): Promise<Shop> {
  const nats = await startNatsServer();
  const databases = new Map<ServiceName, TestDatabase>();
  for (const service of ["orders", "inventory", "payments"] as const) databases.set(service, await createTestDatabase(`saga_${service}`));
  const sagaDeadlineMs = options.sagaDeadlineMs ?? 20_000;
  const replicas: Record<ServiceName, RunningService[]> = { orders: [], inventory: [], payments: [] };
  const env = (service: ServiceName) => ({ ...quiet, PORT: "0", NATS_URL: nats.url, DATABASE_URL: databases.get(service)?.url ?? "" });

  const startReplica = async (service: ServiceName): Promise<RunningService> => {
    let running: RunningService;
    if (service === "inventory") running = await runService(inventoryService(loadInventoryConfig(env("inventory"))));
    else if (service === "payments") running = await runService(paymentsService(loadPaymentsConfig({ ...env("payments"), ...options.payments })));
    else {
      const inventoryTargets = replicas.inventory.map((r) => r.address).join(",");
      running = await runService(ordersService(loadOrdersConfig({ ...env("orders"), INVENTORY_TARGET: inventoryTargets, SAGA_DEADLINE_MS: String(sagaDeadlineMs) })));
    }
    replicas[service].push(running);
    return running;
  };

  for (const service of ["inventory", "payments", "orders"] as const) {
    for (let i = 0; i < (options.replicas ?? 1); i++) await startReplica(service);
  }
  const clientFor = <S extends typeof OrdersService | typeof InventoryService | typeof PaymentsService>(service: S, name: ServiceName) =>
    createClient(service, createGrpcTransport({ baseUrl: `http://${replicas[name][0]?.address ?? ""}` }));

  return {
    nats,
    replicas,
    orders: clientFor(OrdersService, "orders"),
    inventory: clientFor(InventoryService, "inventory"),
    payments: clientFor(PaymentsService, "payments"),
    startReplica,
    async check() {
      const opened: Database[] = [];
      try {
        const open = async (service: ServiceName) => {
          const database = await openDatabase({ url: databases.get(service)?.url ?? "" });
          opened.push(database);
          return database.db;
        };
        return await checkInvariants({ orders: await open("orders"), inventory: await open("inventory"), payments: await open("payments") }, { sagaDeadlineMs, graceMs: 10_000 });
      } finally {
        await Promise.all(opened.map((database) => database.close()));
      }
    },
    async stop() {
      for (const service of ["orders", "payments", "inventory"] as const) await Promise.all(replicas[service].map((r) => r.stop()));
      await nats.dispose();
      for (const database of databases.values()) await database.drop();
    },
  };
}
