// The shop for fault scenarios: like test/saga/shop.ts, but on servers the scenario owns (a
// private nats-server and optionally a private PostgreSQL), with replicas that can also run as
// child processes, so they can be killed with SIGKILL or frozen with SIGSTOP.
import { randomUUID } from "node:crypto";
import { Socket } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { InventoryService } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { OrdersService } from "protomesh/gen/shop/orders/v1/orders_pb";
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
import { createTestDatabase, freePort, SHARED_POSTGRES_URL, type TestDatabase } from "../helpers/index.js";
import { spawnServer, stopProcess, type ServerProcess } from "../helpers/process.js";

export interface FaultShopOptions {
  /** NATS URLs the services connect to (one server, or every node of a cluster). */
  natsUrls: string[];
  /** Server that holds the three throwaway databases. Default: the shared PostgreSQL. */
  postgresUrl?: string;
  sagaDeadlineMs: number;
  /** Extra environment per service, e.g. the payment simulator's knobs. */
  env?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Environment of child replicas only, over `env`. */
  childEnv?: Partial<Record<ServiceName, Record<string, string>>>;
}

/** A replica in a child process: `node --import tsx services/serve.ts <service>`. */
export interface ChildReplica {
  readonly service: ServiceName;
  readonly address: string;
  readonly process: ServerProcess;
  signal(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
}

export interface FaultShop {
  inProcess: Record<ServiceName, RunningService[]>;
  children: ChildReplica[];
  orders: Client<typeof OrdersService>;
  inventory: Client<typeof InventoryService>;
  startChild(service: Exclude<ServiceName, "orders">): Promise<ChildReplica>;
  check(): Promise<InvariantReport>;
  /** Polls the checker until nothing is pending and nothing is wrong, or the timeout; returns the last report. */
  settle(timeoutMs: number): Promise<InvariantReport>;
  /** Places `count` orders from `workers` concurrent callers; returns how many the service accepted. */
  placeOrders(count: number, workers?: number): Promise<{ accepted: number; failed: number; failedBy: Record<string, number> }>;
  stop(): Promise<void>;
}

const repoRoot = join(import.meta.dirname, "..", "..");
const quiet = { LOG_LEVEL: "fatal", SAGA_SWEEP_INTERVAL_MS: "200" };

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(300, () => done(false));
    socket.once("error", () => done(false));
    socket.connect(port, "127.0.0.1", () => done(true));
  });
}

export async function startFaultShop(options: FaultShopOptions): Promise<FaultShop> {
  const databases = new Map<ServiceName, TestDatabase>();
  for (const service of ["orders", "inventory", "payments"] as const) {
    databases.set(service, await createTestDatabase(`fault_${service}`, options.postgresUrl ?? SHARED_POSTGRES_URL));
  }
  const env = (service: ServiceName): Record<string, string> => ({
    ...quiet,
    NATS_URL: options.natsUrls.join(","),
    DATABASE_URL: databases.get(service)?.url ?? "",
    ...options.env?.[service],
  });
  const inProcess: Record<ServiceName, RunningService[]> = { orders: [], inventory: [], payments: [] };
  const children: ChildReplica[] = [];

  inProcess.inventory.push(await runService(inventoryService(loadInventoryConfig({ ...env("inventory"), PORT: "0" }))));
  inProcess.payments.push(await runService(paymentsService(loadPaymentsConfig({ ...env("payments"), PORT: "0" }))));
  inProcess.orders.push(
    await runService(
      ordersService(
        loadOrdersConfig({ ...env("orders"), PORT: "0", INVENTORY_TARGET: inProcess.inventory[0]?.address ?? "", SAGA_DEADLINE_MS: String(options.sagaDeadlineMs) }),
      ),
    ),
  );
  const orders = createClient(OrdersService, createGrpcTransport({ baseUrl: `http://${inProcess.orders[0]?.address ?? ""}` }));
  const inventory = createClient(InventoryService, createGrpcTransport({ baseUrl: `http://${inProcess.inventory[0]?.address ?? ""}` }));

  const check = async (): Promise<InvariantReport> => {
    const opened: Database[] = [];
    try {
      const open = async (service: ServiceName) => {
        const database = await openDatabase({ url: databases.get(service)?.url ?? "" });
        opened.push(database);
        return database.db;
      };
      return await checkInvariants(
        { orders: await open("orders"), inventory: await open("inventory"), payments: await open("payments") },
        { sagaDeadlineMs: options.sagaDeadlineMs, graceMs: 10_000 },
      );
    } finally {
      await Promise.all(opened.map((database) => database.close()));
    }
  };

  return {
    inProcess,
    children,
    orders,
    inventory,
    async startChild(service) {
      const port = await freePort();
      const proc = spawnServer(process.execPath, ["--conditions=source", "--import", "tsx", join("services", "serve.ts"), service], {
        cwd: repoRoot,
        env: { ...process.env, ...env(service), ...options.childEnv?.[service], PORT: String(port) },
      });
      const deadline = Date.now() + 60_000;
      while (!(await portOpen(port))) {
        if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`${service} child exited during start-up:\n${proc.output()}`);
        if (Date.now() > deadline) throw new Error(`${service} child did not listen within 60 s:\n${proc.output()}`);
        await sleep(100);
      }
      const replica: ChildReplica = {
        service,
        address: `127.0.0.1:${port}`,
        process: proc,
        signal: (signal) => proc.child.kill(signal),
        stop: async () => {
          proc.child.kill("SIGCONT");
          await stopProcess(proc, "SIGTERM", 15_000);
        },
      };
      children.push(replica);
      return replica;
    },
    check,
    async settle(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let report = await check();
      while ((report.orders.pending > 0 || report.violations.length > 0) && Date.now() < deadline) {
        await sleep(500);
        report = await check();
      }
      return report;
    },
    async placeOrders(count, workers = 8) {
      let next = 0;
      let accepted = 0;
      let failed = 0;
      const failedBy: Record<string, number> = {};
      await Promise.all(
        Array.from({ length: workers }, async () => {
          while (next < count) {
            const n = next++;
            const items = [{ sku: "MUG-1", quantity: 1 + (n % 2) }];
            try {
              await orders.createOrder({ userId: `user-${n % 29}`, items, idempotencyKey: `fault-${randomUUID()}`, currencyCode: "EUR" });
              accepted++;
            } catch (err) {
              // A fault may refuse a call; the saga promise covers accepted orders only.
              failed++;
              const code = Code[ConnectError.from(err).code];
              failedBy[code] = (failedBy[code] ?? 0) + 1;
              // Back off as a client would, so an outage does not use up the whole run.
              await sleep(100);
            }
          }
        }),
      );
      return { accepted, failed, failedBy };
    },
    async stop() {
      await Promise.all(children.map((child) => child.stop()));
      for (const service of ["orders", "payments", "inventory"] as const) await Promise.all(inProcess[service].map((r) => r.stop()));
      for (const database of databases.values()) await database.drop();
    },
  };
}
