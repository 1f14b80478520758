// The shop for saga and fault tests: each service through the same host as production
// (runService), on its own throwaway PostgreSQL database, against a nats-server the shop
// starts or one the scenario owns (a private server or cluster it may restart or kill).
// Replicas run in this process, or as child processes (`services/serve.ts`) that a scenario
// can kill with SIGKILL, freeze with SIGSTOP, or connect through a wire tap. Replicas of a
// service share its database.
import { randomUUID } from "node:crypto";
import { Socket } from "node:net";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { InventoryService } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { OrdersService } from "protomesh/gen/shop/orders/v1/orders_pb";
import { PaymentsService } from "protomesh/gen/shop/payments/v1/payments_pb";
import { closeClient, shardKeyInterceptor, StaticResolver, WeightedResolver } from "@protomesh/clients";
import { createInventoryClient } from "../../services/clients.js";
import { openDatabase, type Database } from "@protomesh/data";
import { runService, type RunningService } from "../../services/host/run-service.js";
import { loadInventoryConfig } from "../../services/inventory/config.js";
import { inventoryService } from "../../services/inventory/service.js";
import { loadOrdersConfig } from "../../services/orders/config.js";
import { ordersService } from "../../services/orders/service.js";
import { loadPaymentsConfig } from "../../services/payments/config.js";
import { paymentsService } from "../../services/payments/service.js";
import type { ServiceName } from "../../services/saga/topology.js";
import { checkInvariants, type InvariantReport } from "../checker/invariants.js";
import { createTestDatabase, freePort, SHARED_POSTGRES_URL, startNatsServer, type NatsServer, type TestDatabase } from "../helpers/index.js";
import { spawnServer, stopProcess, type ServerProcess } from "../helpers/process.js";

const SERVICES: readonly ServiceName[] = ["orders", "inventory", "payments"];

export interface ShopOptions {
  /** Names the throwaway databases (`pmt_<name>_<service>_…`). Default "saga". */
  name?: string;
  /** NATS URLs (one server, or every node of a cluster) owned by the caller. Default: a private nats-server the shop starts and stops. */
  natsUrls?: string[];
  /** Server that holds the three databases. Default: the shared PostgreSQL. */
  postgresUrl?: string;
  /**
   * Splits inventory into these shards (ADR 0105): each gets its own database and `replicas`
   * inventory replicas, orders routes by shard, and `inventory` is a client that sends each SKU's
   * calls to its shard. Child replicas are unsharded only. Default: one unsharded inventory.
   */
  inventoryShards?: readonly string[];
  /** In-process replicas per service (0 leaves a service to child replicas). Default 1 each. */
  replicas?: number | Partial<Record<ServiceName, number>>;
  /** Default 20 000 ms. */
  sagaDeadlineMs?: number;
  /** Extra environment per service, e.g. the payment simulator's knobs. */
  env?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Environment of child replicas only, over `env`. */
  childEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** How children run: the TypeScript sources through tsx (no build needed), or dist/ (after `npm run build`). Default "source". */
  childCode?: "source" | "dist";
  /** Default "warn"; fault scenarios pass "fatal" since they provoke errors on purpose. */
  logLevel?: string;
}

/** A replica in a child process, which a scenario may kill, freeze or tap. */
export interface ChildReplica {
  readonly service: ServiceName;
  readonly address: string;
  readonly process: ServerProcess;
  readonly pid: number;
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM (after SIGCONT, in case it is frozen) and wait; SIGKILL after 15 s. */
  stop(): Promise<void>;
}

export interface ChildOptions {
  /** Listen on this port, e.g. the one a killed replica had. Default: a free one. */
  port?: number;
  /** Replaces the NATS URL(s), e.g. with a wire tap in front of the server. */
  natsUrl?: string;
  /** Replaces the database URL, e.g. with a wire tap in front of PostgreSQL. */
  databaseUrl?: string;
  env?: Record<string, string>;
}

export interface PlaceOrdersResult {
  accepted: number;
  failed: number;
  failedBy: Record<string, number>;
  /** The first message of each code in `failedBy`, so a report says why calls failed. */
  failedWith: Record<string, string>;
}

/** Counts CreateOrder calls as they end: accepted, or failed by code with each code's first message. */
export function tallyOrderCalls(): PlaceOrdersResult & { refused(err: unknown): void } {
  const tally = {
    accepted: 0,
    failed: 0,
    failedBy: {} as Record<string, number>,
    failedWith: {} as Record<string, string>,
    refused(err: unknown) {
      tally.failed++;
      const error = ConnectError.from(err);
      const code = Code[error.code];
      tally.failedBy[code] = (tally.failedBy[code] ?? 0) + 1;
      tally.failedWith[code] ??= error.rawMessage;
    },
  };
  return tally;
}

export interface Shop {
  /** The NATS servers the services use; `url` is the first. */
  nats: { url: string; servers: string[] };
  /** In-process replicas. */
  replicas: Record<ServiceName, RunningService[]>;
  children: ChildReplica[];
  orders: Client<typeof OrdersService>;
  inventory: Client<typeof InventoryService>;
  payments: Client<typeof PaymentsService>;
  /** The in-process replicas of an inventory shard. */
  shardReplicas(shard: string): RunningService[];
  /** Database URL of a service, or of an inventory shard. */
  databaseUrl(service: ServiceName, shard?: string): string;
  /** Starts one more in-process replica of a service (of an inventory shard, when inventory is sharded). */
  startReplica(service: ServiceName, shard?: string): Promise<RunningService>;
  /** Starts a replica in a child process; orders replicas call every inventory replica running then. */
  startChild(service: ServiceName, options?: ChildOptions): Promise<ChildReplica>;
  check(): Promise<InvariantReport>;
  /** Polls the checker until nothing is pending and nothing is wrong, or the timeout; returns the last report. */
  settle(timeoutMs: number): Promise<InvariantReport>;
  /** Places `count` orders of MUG-1 from `workers` concurrent callers through `client` (default: `orders`). */
  placeOrders(count: number, workers?: number, client?: Client<typeof OrdersService>): Promise<PlaceOrdersResult>;
  stop(): Promise<void>;
}

/** The repository root, from the sources (test/saga) or from dist/test/saga alike: the nearest folder with package.json. */
function repoRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${import.meta.dirname}`);
    dir = parent;
  }
  return dir;
}

/** True once something accepts TCP connections on 127.0.0.1:`port`. */
export function portOpen(port: number): Promise<boolean> {
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

export async function startShop(options: ShopOptions = {}): Promise<Shop> {
  const ownNats: NatsServer | undefined = options.natsUrls === undefined ? await startNatsServer() : undefined;
  const natsServers = options.natsUrls ?? [ownNats?.url ?? ""];
  const shards = options.inventoryShards;
  const databases = new Map<string, TestDatabase>();
  for (const name of shards === undefined ? SERVICES : [...SERVICES.filter((service) => service !== "inventory"), ...shards]) {
    databases.set(name, await createTestDatabase(`${options.name ?? "saga"}_${name.replace(/-/g, "_")}`, options.postgresUrl ?? SHARED_POSTGRES_URL));
  }
  const sagaDeadlineMs = options.sagaDeadlineMs ?? 20_000;
  const replicas: Record<ServiceName, RunningService[]> = { orders: [], inventory: [], payments: [] };
  const children: ChildReplica[] = [];
  const databaseUrl = (service: ServiceName, shard?: string) => databases.get(shard ?? service)?.url ?? "";
  const inventoryTargets = () => [...replicas.inventory.map((r) => r.address), ...children.filter((c) => c.service === "inventory").map((c) => c.address)].join(",");
  const shardOfReplica = new Map<RunningService, string>();
  const shardReplicas = (shard: string) => replicas.inventory.filter((r) => shardOfReplica.get(r) === shard);
  const shardEnv = (service: ServiceName, shard: string | undefined): Record<string, string> => {
    if (shards === undefined) return {};
    if (service === "inventory") return { INVENTORY_SHARD: shard ?? "", INVENTORY_SHARDS: shards.join(","), DATABASE_URL: databaseUrl(service, shard) };
    if (service === "orders") return { INVENTORY_SHARDS: shards.join(","), INVENTORY_SHARD_TARGETS: shards.map((name) => `${name}=${shardReplicas(name).map((r) => r.address).join(",")}`).join(";") };
    return {};
  };
  const env = (service: ServiceName, shard?: string): Record<string, string> => ({
    LOG_LEVEL: options.logLevel ?? "warn",
    SAGA_SWEEP_INTERVAL_MS: "200",
    NATS_URL: natsServers.join(","),
    DATABASE_URL: databaseUrl(service),
    // Test files run two at a time against one PostgreSQL (max_connections 100): a shop of nine
    // replicas at the default pool of 10 would hold most of it.
    DATABASE_POOL_SIZE: "4",
    ...(service === "orders" ? { INVENTORY_TARGET: inventoryTargets(), SAGA_DEADLINE_MS: String(sagaDeadlineMs) } : {}),
    ...shardEnv(service, shard),
    ...options.env?.[service],
  });

  const startReplica = async (service: ServiceName, shard?: string): Promise<RunningService> => {
    if (service === "inventory" && (shards === undefined) !== (shard === undefined)) {
      throw new Error(shard === undefined ? `name the inventory shard to start (${shards?.join(", ")})` : "inventory is not sharded in this shop");
    }
    const vars = { ...env(service, shard), PORT: "0" };
    const definition =
      service === "inventory" ? inventoryService(loadInventoryConfig(vars)) : service === "payments" ? paymentsService(loadPaymentsConfig(vars)) : ordersService(loadOrdersConfig(vars));
    const running = await runService(definition);
    replicas[service].push(running);
    if (shard !== undefined) shardOfReplica.set(running, shard);
    return running;
  };

  const startChild = async (service: ServiceName, child: ChildOptions = {}): Promise<ChildReplica> => {
    if (shards !== undefined) throw new Error("child replicas are unsharded only");
    const port = child.port ?? (await freePort());
    const entry = options.childCode === "dist" ? [join("dist", "services", "serve.js")] : ["--conditions=source", "--import", "tsx", join("services", "serve.ts")];
    const proc = spawnServer(process.execPath, [...entry, service], {
      cwd: repoRoot(),
      env: {
        ...process.env,
        ...env(service),
        ...options.childEnv?.[service],
        ...child.env,
        ...(child.natsUrl === undefined ? {} : { NATS_URL: child.natsUrl }),
        ...(child.databaseUrl === undefined ? {} : { DATABASE_URL: child.databaseUrl }),
        PORT: String(port),
      },
    });
    const deadline = Date.now() + 60_000;
    while (!(await portOpen(port))) {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`${service} child exited during start-up:\n${proc.output()}`);
      if (Date.now() > deadline) {
        await stopProcess(proc, "SIGKILL");
        throw new Error(`${service} child did not listen within 60 s:\n${proc.output()}`);
      }
      await sleep(100);
    }
    const replica: ChildReplica = {
      service,
      address: `127.0.0.1:${port}`,
      process: proc,
      pid: proc.child.pid ?? 0,
      signal: (signal) => proc.child.kill(signal),
      stop: async () => {
        proc.child.kill("SIGCONT");
        await stopProcess(proc, "SIGTERM", 15_000);
      },
    };
    children.push(replica);
    return replica;
  };

  const counts = typeof options.replicas === "number" ? { orders: options.replicas, inventory: options.replicas, payments: options.replicas } : options.replicas;
  // Inventory first: orders replicas call it.
  for (const service of ["inventory", "payments", "orders"] as const) {
    for (const shard of service === "inventory" && shards !== undefined ? shards : [undefined]) {
      for (let i = 0; i < (counts?.[service] ?? 1); i++) await startReplica(service, shard);
    }
  }
  const clientFor = <S extends typeof OrdersService | typeof InventoryService | typeof PaymentsService>(descriptor: S, service: ServiceName) =>
    createClient(descriptor, createGrpcTransport({ baseUrl: `http://${replicas[service][0]?.address ?? "127.0.0.1:1"}` }));
  const orders = clientFor(OrdersService, "orders");
  // Over shards, the client routes by SKU as ADR 0083 describes: a subset per shard, a shard key per method.
  const shardedInventory =
    shards === undefined
      ? undefined
      : createInventoryClient({
          target: new WeightedResolver(shards.map((name) => ({ name, weight: 1, resolver: new StaticResolver(shardReplicas(name).map((r) => ({ host: "127.0.0.1", port: Number(r.address.split(":")[1]) }))) }))),
          authority: "inventory:50052",
          interceptors: [shardKeyInterceptor({ shards, keys: { GetStock: (r: { sku: string }) => r.sku, SetStock: (r: { sku: string }) => r.sku, AdjustStock: (r: { sku: string }) => r.sku } })],
        });

  const check = async (): Promise<InvariantReport> => {
    const opened: Database[] = [];
    try {
      const open = async (service: ServiceName, shard?: string) => {
        const database = await openDatabase({ url: databaseUrl(service, shard) });
        opened.push(database);
        return database.db;
      };
      const inventory = shards === undefined ? await open("inventory") : { shards: Object.fromEntries(await Promise.all(shards.map(async (shard) => [shard, await open("inventory", shard)] as const))) };
      return await checkInvariants({ orders: await open("orders"), inventory, payments: await open("payments") }, { sagaDeadlineMs, graceMs: 10_000 });
    } finally {
      await Promise.all(opened.map((database) => database.close()));
    }
  };

  return {
    nats: { url: natsServers[0] ?? "", servers: natsServers },
    replicas,
    children,
    orders,
    inventory: shardedInventory ?? clientFor(InventoryService, "inventory"),
    payments: clientFor(PaymentsService, "payments"),
    databaseUrl,
    shardReplicas,
    startReplica,
    startChild,
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
    async placeOrders(count, workers = 8, client = orders) {
      let next = 0;
      const tally = tallyOrderCalls();
      await Promise.all(
        Array.from({ length: workers }, async () => {
          while (next < count) {
            const n = next++;
            try {
              await client.createOrder({ userId: `user-${n % 29}`, items: [{ sku: "MUG-1", quantity: 1 + (n % 2) }], idempotencyKey: `shop-${randomUUID()}`, currencyCode: "EUR" });
              tally.accepted++;
            } catch (err) {
              // A fault may refuse a call; the saga promise covers accepted orders only.
              tally.refused(err);
              // Back off as a client would, so an outage does not use up the whole run.
              await sleep(100);
            }
          }
        }),
      );
      const { accepted, failed, failedBy, failedWith } = tally;
      return { accepted, failed, failedBy, failedWith };
    },
    async stop() {
      if (shardedInventory !== undefined) closeClient(shardedInventory);
      await Promise.all(children.map((child) => child.stop()));
      for (const service of ["orders", "payments", "inventory"] as const) await Promise.all(replicas[service].map((r) => r.stop()));
      await ownNats?.dispose();
      for (const database of databases.values()) await database.drop();
    },
  };
}
