// Starts the reference services through the production host (runService) for RPC tests: on
// in-memory PGlite or on a throwaway PostgreSQL database, against a private nats-server, and
// gives Connect clients that speak gRPC over HTTP/2 to them.
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import type { Database, Db } from "@protomesh/data";
import { MESSAGING_DATABASE } from "@protomesh/messaging/nest";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { setTimeout as sleep } from "node:timers/promises";
import { runService, type RunningService } from "../../services/host/run-service.js";
import { loadInventoryConfig } from "../../services/inventory/config.js";
import { inventoryService } from "../../services/inventory/service.js";
import { loadOrdersConfig } from "../../services/orders/config.js";
import { ordersService } from "../../services/orders/service.js";
import { loadPaymentsConfig } from "../../services/payments/config.js";
import { paymentsService } from "../../services/payments/service.js";
import { subscriptions, type ServiceName } from "../../services/saga/topology.js";
import { createTestDatabase, type TestDatabase } from "../helpers/index.js";
import type { Backend } from "./backends.js";

export type { ServiceName };

/** Where a service keeps its data for one test: its environment and how to remove it. */
export interface ServiceStorage {
  env: Record<string, string>;
  drop(): Promise<void>;
}

/** In-memory PGlite (nothing to drop), or a fresh database on the shared PostgreSQL. */
export async function serviceStorage(backend: Backend, service: ServiceName): Promise<ServiceStorage> {
  if (backend === "pglite") return { env: { DATA_DIR: "memory" }, drop: async () => undefined };
  const database: TestDatabase = await createTestDatabase(`rpc_${service}`);
  return { env: { DATABASE_URL: database.url }, drop: () => database.drop() };
}

const quiet = { LOG_LEVEL: "warn", PORT: "0" };

/**
 * Room for one service start. PGlite compiles its WebAssembly on every open: about 3 s on an idle
 * two-core machine, but far longer when other suites load it, and a start must not fail a test.
 */
export const startTimeoutMs = 180_000;

/**
 * Runs one service as the host does, configured from `env` (PORT=0, quiet logs by default), and
 * returns once its event consumers are pulling (see waitUntilConsuming).
 */
export async function startService(service: ServiceName, env: Record<string, string>): Promise<RunningService> {
  const all = { ...quiet, ...env };
  const running =
    service === "inventory"
      ? await runService(inventoryService(loadInventoryConfig(all)))
      : service === "payments"
        ? await runService(paymentsService(loadPaymentsConfig(all)))
        : await runService(ordersService(loadOrdersConfig(all)));
  try {
    await waitUntilConsuming(running.nats, service);
  } catch (err) {
    await running.stop();
    throw err;
  }
  return running;
}

/**
 * Waits until every durable consumer of `service` has a pull request waiting at the server.
 * A service stopped before that hangs in shutdown (the JetStream bus awaits close() of an
 * iterator nobody reads yet), so tests never stop a service earlier.
 */
export async function waitUntilConsuming(nats: NatsConnection | string, service: ServiceName, timeoutMs = 30_000): Promise<void> {
  const connection = typeof nats === "string" ? await connect({ servers: nats }) : nats;
  try {
    const jsm = await jetstreamManager(connection);
    const wanted = subscriptions.filter((s) => s.consumer === service);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const waiting = await Promise.all(
        wanted.map((s) => jsm.consumers.info(s.stream, s.durable).then((info) => info.num_waiting > 0, () => false)),
      );
      if (waiting.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`${service}: consumers ${wanted.filter((_, i) => !waiting[i]).map((s) => s.durable).join(", ")} are not pulling after ${timeoutMs} ms`);
      await sleep(25);
    }
  } finally {
    if (typeof nats === "string") await connection.close();
  }
}

/** The database of a running service, as its providers inject it. */
export const databaseOf = (running: Pick<RunningService, "app">): Db => running.app.get<Database>(MESSAGING_DATABASE).db;

/** A gRPC client over HTTP/2 (prior knowledge, no TLS) for a running service. */
export function grpcClient<S extends DescService>(service: S, running: Pick<RunningService, "address">): Client<S> {
  return createClient(service, createGrpcTransport({ baseUrl: `http://${running.address}` }));
}

/** Runs every clean-up step in order, even after one fails; then throws the first failure. */
export async function cleanUp(steps: ReadonlyArray<() => Promise<unknown> | undefined>): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, `${failures.length} clean-up step(s) failed`);
}
