// The demo run itself: certificates, replicas, stock, orders (with chaos if asked), settling,
// shutdown and the invariant check.
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { SingleBar } from "cli-progress";
import { sql } from "drizzle-orm";
import { clientTransport, closeClient, resolverForTarget, shardKeyInterceptor, WeightedResolver, type ClientOptions } from "@protomesh/clients";
import { createInventoryClient, createOrdersClient } from "../services/clients.js";
import type { Database } from "@protomesh/data";
import { DEFAULT_OUTBOX_LEASE_MS, defaultDurableName } from "@protomesh/messaging";
import { writeDevCertificates } from "@protomesh/server/pki";
import { CancellationReason, OrderStatus, type Order } from "protomesh/gen/shop/orders/v1/orders_pb";
import { checkInvariants, type InvariantReport } from "../test/checker/invariants.js";
import { subscriptions, type ServiceName } from "../services/saga/topology.js";
import type { DemoDatabases } from "./databases.js";
import type { DemoNats } from "./nats.js";
import { freePort } from "./network.js";
import { Supervisor, type Replica } from "./supervisor.js";
import { scrapeEventCounters, type EventCounters } from "./event-counters.js";

export interface DemoOptions {
  orders: number;
  /** Replicas per service; default 2 on PostgreSQL, 1 on PGlite (one process per data directory). */
  replicas: number | undefined;
  chaos: boolean;
  declineRate: number;
  concurrency: number;
  sagaDeadlineMs: number;
}

export interface DemoResult {
  options: DemoOptions;
  replicasPerService: number;
  databaseKind: DemoDatabases["kind"];
  natsOrigin: DemoNats["origin"];
  /** Whether the replicas share a Redis cache (REDIS_URL, which they inherit from the demo's environment). */
  cache: "redis" | "off";
  outcomes: Record<string, number>;
  latenciesMs: number[];
  unfinished: number;
  chaosKills: string[];
  createRetries: number;
  /** The replicas' own counters, scraped before shutdown; undefined when none answered. */
  eventCounters: EventCounters | undefined;
  /** Share of the driver's calls each orders replica served, by address. */
  ordersShare: { address: string; calls: number }[];
  /** From the first order placed until every order ended (or was given up). */
  drivingMs: number;
  /** The whole run: start-up, stocking, driving, settling and the invariant checks. */
  wallMs: number;
  report: InvariantReport;
}

const CERT_DIR = ".certs";
const SKUS = [
  { sku: "MUG-BLUE", name: "Blue mug", priceMinor: 1250n },
  { sku: "TEE-BLACK", name: "Black tee", priceMinor: 2000n },
  { sku: "CAP-RED", name: "Red cap", priceMinor: 1500n },
  { sku: "BAG-TOTE", name: "Tote bag", priceMinor: 900n },
  { sku: "PEN-GOLD", name: "Gold pen", priceMinor: 4500n },
  // Scarce on purpose: the orders that want it late find it sold out.
  { sku: "LAMP-LTD", name: "Limited lamp", priceMinor: 9900n },
];

/** A durable consumer the run waits on: every saga subscription, per shard for sharded inventory. */
interface Durable {
  stream: string;
  durable: string;
}

/** A small deterministic generator, so two runs with the same options place the same orders. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

const terminal = (order: Order | undefined) => order !== undefined && (order.status === OrderStatus.CONFIRMED || order.status === OrderStatus.CANCELLED);

/**
 * Runs the demo on the given NATS and databases, which stay the caller's to release. When
 * `interrupted` aborts, every replica is stopped and the run rejects with its reason once none
 * is left running.
 */
export async function runDemo(options: DemoOptions, infra: { nats: DemoNats; databases: DemoDatabases }, interrupted: AbortSignal): Promise<DemoResult> {
  const started = Date.now();
  const replicasPerService = infra.databases.kind === "pglite" ? 1 : (options.replicas ?? 2);
  if (infra.databases.kind === "pglite" && (options.replicas ?? 1) > 1) {
    console.error("note: replicas of a service need a shared database; on embedded PGlite each service runs one replica (set DATABASE_URL for more)");
  }
  if (!existsSync(join(CERT_DIR, "ca.crt"))) await writeDevCertificates(CERT_DIR, { trustDomain: "shop", names: ["orders", "inventory", "payments", "gateway"] });
  const tlsEnv = (service: string) => ({
    TLS_CERT_FILE: join(CERT_DIR, `${service}.crt`),
    TLS_KEY_FILE: join(CERT_DIR, `${service}.key`),
    TLS_CA_FILE: join(CERT_DIR, "ca.crt"),
  });
  const gatewayTls: ClientOptions["tls"] = { caFile: join(CERT_DIR, "ca.crt"), certFile: join(CERT_DIR, "gateway.crt"), keyFile: join(CERT_DIR, "gateway.key"), serverName: "localhost" };

  const supervisor = new Supervisor([process.execPath, join(import.meta.dirname, "..", "services", "serve.js")]);
  // Stops the replicas at once; the steps below notice the abort and unwind to the finally,
  // which waits for the last of them.
  const stopOnInterrupt = () => void supervisor.stopAll(5_000);
  interrupted.throwIfAborted();
  interrupted.addEventListener("abort", stopOnInterrupt, { once: true });

  // What runs, in start order (inventory first: orders replicas call it): a unit per service,
  // and with sharded inventory a unit per shard, each on its own database (ADR 0105).
  const shards = infra.databases.inventoryShards;
  const units: { service: ServiceName; unit: string }[] = [
    ...(shards ?? ["inventory"]).map((unit) => ({ service: "inventory" as const, unit })),
    { service: "payments", unit: "payments" },
    { service: "orders", unit: "orders" },
  ];
  const ports = new Map<string, number[]>();
  for (const { unit } of units) {
    ports.set(unit, await Promise.all(Array.from({ length: replicasPerService }, () => freePort())));
  }
  // Each shard consumes inventory's events through durables of its own.
  const durables: Durable[] = subscriptions.flatMap((subscription) =>
    subscription.consumer === "inventory" && shards !== undefined
      ? shards.map((shard) => ({ stream: subscription.stream, durable: defaultDurableName(shard, subscription.eventType) }))
      : [{ stream: subscription.stream, durable: subscription.durable }],
  );
  const addresses = (unit: string) => (ports.get(unit) ?? []).map((port) => `127.0.0.1:${port}`);
  const commonEnv = (service: ServiceName, unit: string) => ({
    ...infra.databases.envFor(unit),
    ...tlsEnv(service),
    NATS_URL: infra.nats.url,
    ...(infra.nats.streamReplicas === undefined ? {} : { NATS_STREAM_REPLICAS: String(infra.nats.streamReplicas) }),
    LOG_LEVEL: "warn",
  });
  const chaosKills: string[] = [];
  let createRetries = 0;
  const outcomes: Record<string, number> = {};
  const latenciesMs: number[] = [];
  let unfinished = 0;
  let drivingMs = 0;
  const clients: object[] = [];
  let ordersShare: DemoResult["ordersShare"] = [];
  let eventCounters: EventCounters | undefined;
  let chaos: ReturnType<typeof startChaos> | undefined;

  try {
    await refuseSharedConsumers(infra.nats.url, durables);
    process.stderr.write(
      `starting ${replicasPerService} replica(s) each of ${units.map((u) => u.unit).join(", ")} (database: ${infra.databases.kind}, NATS: ${infra.nats.url})\n`,
    );
    // `unit`: an inventory replica's shard when inventory is sharded.
    const extraEnv = (service: ServiceName, unit: string): Record<string, string> => {
      switch (service) {
        case "inventory":
          return shards === undefined ? {} : { INVENTORY_SHARD: unit, INVENTORY_SHARDS: shards.join(",") };
        case "payments":
          return { PAYMENT_DECLINE_RATE: String(options.declineRate) };
        case "orders":
          return {
            ...(shards === undefined
              ? { INVENTORY_TARGET: addresses("inventory").join(",") }
              : { INVENTORY_SHARDS: shards.join(","), INVENTORY_SHARD_TARGETS: shards.map((shard) => `${shard}=${addresses(shard).join(",")}`).join(";") }),
            SAGA_DEADLINE_MS: String(options.sagaDeadlineMs),
          };
      }
    };
    for (const { service, unit } of units) {
      const start = async (port: number, index: number) => {
        const began = Date.now();
        const env = { ...commonEnv(service, unit), ...extraEnv(service, unit) };
        const replica = await supervisor.start({ service, unit, index, port, metricsPort: await freePort(), env });
        process.stderr.write(`  ${replica.name} on :${replica.port} (listening after ${((Date.now() - began) / 1000).toFixed(1)} s)\n`);
      };
      // The first replica creates the streams and durable consumers (on a cluster, each a
      // replicated group whose leader must be elected) while the others would race it to create
      // the same ones, and on a loaded host replicas starting side by side share the CPU, each
      // taking longer to listen. The others start once it listens, finding all of it in place.
      const [first = 0, ...others] = ports.get(unit) ?? [];
      await start(first, 0);
      await Promise.all(others.map((port, index) => start(port, index + 1)));
    }

    // Over shards, stocking routes each SKU to its shard as orders does (ADR 0083): a subset per shard, the SKU as shard key.
    const inventory = createInventoryClient({
      target:
        shards === undefined
          ? addresses("inventory")
          : new WeightedResolver(shards.map((shard) => ({ name: shard, weight: 1, resolver: resolverForTarget(addresses(shard)) }))),
      authority: "localhost:443",
      tls: gatewayTls,
      ...(shards === undefined ? {} : { interceptors: [shardKeyInterceptor({ shards, keys: { SetStock: (request: { sku: string }) => request.sku } })] }),
    });
    const orders = createOrdersClient({ target: addresses("orders"), authority: "localhost:443", tls: gatewayTls, loadBalancing: "round-robin" });
    clients.push(inventory, orders);
    await untilInterrupted(Promise.all([clientTransport(inventory).ready(), clientTransport(orders).ready()]), interrupted);
    process.stderr.write("  clients connected over mTLS; stocking inventory\n");

    const next = random(42);
    const lampOrders = Math.max(1, Math.round(options.orders * 0.15));
    for (const item of SKUS) {
      const available = item.sku === "LAMP-LTD" ? Math.max(1, Math.round(lampOrders / 2)) : options.orders * 3;
      await inventory.setStock({ sku: item.sku, name: item.name, available, unitPrice: { currencyCode: "EUR", amountMinor: item.priceMinor } }, { signal: interrupted });
    }

    chaos = options.chaos ? startChaos(supervisor, chaosKills) : undefined;
    const bar = new SingleBar({ format: "orders [{bar}] {value}/{total} terminal | {confirmed} confirmed, {cancelled} cancelled | {duration}s", hideCursor: true, stream: process.stderr });
    bar.start(options.orders, 0, { confirmed: 0, cancelled: 0 });
    const giveUpAt = () => Date.now() + options.sagaDeadlineMs + 60_000;

    const placeOne = async (n: number) => {
      const lines = [{ sku: SKUS[Math.floor(next() * 5)]?.sku ?? "MUG-BLUE", quantity: 1 + Math.floor(next() * 3) }];
      if (n % Math.round(options.orders / lampOrders) === 0) lines.push({ sku: "LAMP-LTD", quantity: 1 });
      const idempotencyKey = `demo-${randomUUID()}`;
      const userId = `user-${n % 50}`;
      const begin = Date.now();
      const stopAt = giveUpAt();
      let order: Order | undefined;
      // A replica may die under us: retry with the same key, which cannot create a second order.
      while (order === undefined && Date.now() < stopAt && !interrupted.aborted) {
        try {
          order = (await orders.createOrder({ userId, items: lines, idempotencyKey, currencyCode: "EUR" }, { headers: { "idempotency-key": idempotencyKey }, signal: interrupted })).order;
        } catch (error) {
          if (ConnectError.from(error).code === Code.InvalidArgument) throw error;
          createRetries += 1;
          await sleep(200);
        }
      }
      while (!terminal(order) && order !== undefined && Date.now() < stopAt && !interrupted.aborted) {
        try {
          for await (const update of orders.watchOrder({ orderId: order.orderId }, { timeoutMs: 5_000, signal: interrupted })) {
            order = update.order ?? order;
            if (terminal(order)) break;
          }
        } catch {
          await sleep(200);
        }
      }
      if (order !== undefined && terminal(order)) {
        latenciesMs.push(Date.now() - begin);
        const outcome = order.status === OrderStatus.CONFIRMED ? "confirmed" : `cancelled: ${CancellationReason[order.cancellationReason].toLowerCase().replaceAll("_", " ")}`;
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      } else {
        unfinished += 1;
      }
      const confirmed = outcomes.confirmed ?? 0;
      bar.increment(1, { confirmed, cancelled: latenciesMs.length - confirmed });
    };

    let issued = 0;
    const drivingStarted = Date.now();
    await Promise.all(
      Array.from({ length: Math.min(options.concurrency, options.orders) }, async () => {
        while (issued < options.orders && !interrupted.aborted) await placeOne(issued++);
      }),
    );
    drivingMs = Date.now() - drivingStarted;
    bar.stop();
    interrupted.throwIfAborted();
    ordersShare = clientTransport(orders).snapshot().map(({ address, calls }) => ({ address, calls }));
    await chaos?.stop();
    // A killed replica's relay may hold published-but-unmarked outbox rows until its lease ends;
    // another relay then republishes them (deduplicated by the broker) and marks them.
    await settle(infra.nats.url, durables, () => outboxesDrained(infra.databases), options.chaos ? DEFAULT_OUTBOX_LEASE_MS + 2_000 : 0, interrupted);
    const scraped = await scrapeEventCounters(supervisor.replicas);
    for (const failure of scraped.unreachable) process.stderr.write(`  metrics not scraped from ${failure}\n`);
    eventCounters = scraped.scraped > 0 ? scraped : undefined;
  } finally {
    for (const client of clients) closeClient(client);
    // Already stopped unless the run failed or was interrupted before; a failed restart it
    // ended with was reported by the run's own stop.
    await chaos?.stop().catch(() => undefined);
    await supervisor.stopAll();
    interrupted.removeEventListener("abort", stopOnInterrupt);
  }
  interrupted.throwIfAborted();

  const opened = new Map(await Promise.all(infra.databases.names.map(async (name) => [name, await infra.databases.open(name)] as const)));
  const db = (name: string) => (opened.get(name) as Database).db;
  try {
    const report = await checkInvariants(
      {
        orders: db("orders"),
        inventory: shards === undefined ? db("inventory") : { shards: Object.fromEntries(shards.map((shard) => [shard, db(shard)])) },
        payments: db("payments"),
      },
      { sagaDeadlineMs: options.sagaDeadlineMs, graceMs: 15_000 },
    );
    return {
      options,
      replicasPerService,
      databaseKind: infra.databases.kind,
      natsOrigin: infra.nats.origin,
      cache: process.env.REDIS_URL === undefined || process.env.REDIS_URL === "" ? "off" : "redis",
      eventCounters,
      outcomes,
      latenciesMs,
      unfinished,
      chaosKills,
      createRetries,
      ordersShare,
      drivingMs,
      wallMs: Date.now() - started,
      report,
    };
  } finally {
    await Promise.all([...opened.values()].map((database) => database.close()));
  }
}

/** Kills a random replica every 2-4 s (SIGKILL, like a crash) and starts it again. */
function startChaos(supervisor: Supervisor, kills: string[]) {
  let running = true;
  const pick = random(7);
  const loop = (async () => {
    while (running) {
      await sleep(2_000 + pick() * 2_000);
      if (!running) break;
      const victim: Replica | undefined = supervisor.replicas[Math.floor(pick() * supervisor.replicas.length)];
      if (victim === undefined) continue;
      kills.push(victim.name);
      await supervisor.restart(victim);
    }
  })();
  // A replica that fails to start again ends the loop; stop() reports it. Until then the
  // rejection must not count as unhandled, which would end the demo with a stack trace.
  loop.catch(() => {});
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** Whether every outbox row is published; PGlite directories cannot be read while their replica runs. */
async function outboxesDrained(databases: DemoDatabases): Promise<boolean> {
  if (databases.kind === "pglite") return true;
  for (const name of databases.names) {
    const database = await databases.open(name);
    try {
      const { rows } = await database.db.execute(sql`select count(*)::int as unpublished from outbox where published_at is null`);
      if ((rows[0] as { unpublished: number } | undefined)?.unpublished !== 0) return false;
    } finally {
      await database.close();
    }
  }
  return true;
}

/**
 * Durable consumers are shared by every replica that names them: a second shop on the same NATS
 * would take this run's events and this run would take its. Refuse to start while another shop's
 * replicas are pulling from them.
 */
async function refuseSharedConsumers(natsUrl: string, durables: readonly Durable[]): Promise<void> {
  const nc = await connect({ servers: natsUrl.split(",") });
  try {
    const jsm = await jetstreamManager(nc);
    for (const subscription of durables) {
      const info = await jsm.consumers.info(subscription.stream, subscription.durable).catch(() => undefined);
      if (info !== undefined && info.num_waiting > 0) {
        throw new Error(
          `another shop is consuming from ${natsUrl} (durable ${subscription.durable} has ${info.num_waiting} pull requests waiting); stop it, or set NATS_URL to a NATS server of this run's own`,
        );
      }
    }
  } finally {
    await nc.close();
  }
}

/**
 * Waits until every durable consumer has nothing pending or unacknowledged for two checks in a
 * row, so the compensations triggered by the last orders are applied before shutdown.
 */
async function settle(natsUrl: string, durables: readonly Durable[], drained: () => Promise<boolean>, leaseWaitMs: number, interrupted: AbortSignal, timeoutMs = 90_000): Promise<void> {
  const nc = await connect({ servers: natsUrl.split(",") });
  try {
    const jsm = await jetstreamManager(nc);
    const deadline = Date.now() + timeoutMs;
    const leasesEnd = Date.now() + leaseWaitMs;
    let quiet = 0;
    while (quiet < 2 && Date.now() < deadline) {
      await sleep(1_000, undefined, { signal: interrupted });
      let busy = Date.now() < leasesEnd || !(await drained());
      for (const subscription of durables) {
        try {
          const info = await jsm.consumers.info(subscription.stream, subscription.durable);
          if (info.num_pending > 0 || info.num_ack_pending > 0) busy = true;
        } catch {
          busy = true;
        }
      }
      quiet = busy ? 0 : quiet + 1;
    }
  } finally {
    await nc.close();
  }
}

/** `work`, or the abort's reason as soon as `interrupted` aborts, for waits that take no signal. */
function untilInterrupted<T>(work: Promise<T>, interrupted: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    // An abort's reason is an Error unless the caller chose otherwise (DOMException by default).
    const abort = () => reject(interrupted.reason as Error);
    if (interrupted.aborted) return abort();
    interrupted.addEventListener("abort", abort, { once: true });
    work.then(resolve, reject).finally(() => interrupted.removeEventListener("abort", abort));
  });
}
