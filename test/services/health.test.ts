// grpc.health.v1 of a service run by the production host tells whether it can do its work: it
// turns NOT_SERVING when its events cannot get out (the stream refuses publishes) or cannot come
// in (the broker hangs or is gone), on JetStream and on Redis Streams, or when its database hangs,
// and SERVING again once they can, without flipping on a moment's silence. Each server here is private, so it can be paused,
// stopped and limited.
import { create } from "@bufbuild/protobuf";
import { DiscardPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeEvent } from "@protomesh/messaging";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "@protomesh/clients/health";
import { StockRejectedSchema } from "protomesh/gen/shop/inventory/v1/events_pb";
import { runService, type RunningService } from "../../services/host/run-service.js";
import { loadInventoryConfig } from "../../services/inventory/config.js";
import { inventoryService } from "../../services/inventory/service.js";
import { streams } from "../../services/saga/topology.js";
import { startNatsServer, startPostgresServer, startRedisServer, type NatsServer, type PostgresServer, type RedisServer } from "../helpers/index.js";
import { cleanUp, databaseOf, grpcClient, startTimeoutMs, waitUntilConsuming } from "./rpc-helpers.js";

/** The host's default: a failure must last this long before health reports it. */
const NOT_READY_AFTER_MS = 15_000;

/** Inventory through the host, its log lines kept, on in-memory PGlite and the given bus. */
async function serveInventory(env: Record<string, string>): Promise<{ running: RunningService; logs: string[]; status: () => Promise<ServingStatus> }> {
  const logs: string[] = [];
  const running = await runService(inventoryService(loadInventoryConfig({ PORT: "0", DATA_DIR: "memory", LOG_LEVEL: "info", ...env })), {
    logDestination: { write: (line: string) => void logs.push(line) },
  });
  const health = grpcClient(Health, running);
  return { running, logs, status: async () => (await health.check({ service: "" }, { timeoutMs: 5_000 })).status };
}

/** Polls Check until it answers `wanted`; resolves with how long that took, failing after `timeoutMs`. */
async function statusWithin(status: () => Promise<ServingStatus>, wanted: ServingStatus, timeoutMs: number): Promise<number> {
  const began = Date.now();
  await expect.poll(status, { timeout: timeoutMs, interval: 250 }).toBe(wanted);
  return Date.now() - began;
}

const healthLines = (logs: readonly string[]) => logs.map((line) => (JSON.parse(line) as { msg: string }).msg).filter((msg) => msg.startsWith("health: "));

describe("health of a service on JetStream", () => {
  let nats: NatsServer;
  let served: Awaited<ReturnType<typeof serveInventory>>;
  let control: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer();
    served = await serveInventory({ NATS_URL: nats.url });
    await waitUntilConsuming(served.running.nats, "inventory");
    control = await connect({ servers: nats.url });
  }, startTimeoutMs);
  afterAll(async () => {
    await cleanUp([() => control?.close(), () => served?.running.stop(), () => nats?.dispose()]);
  });

  it("turns NOT_SERVING while its stream refuses publishes and consumers still pull, naming the relay's error, and SERVING once events get out", async () => {
    expect(await served.status()).toBe(ServingStatus.SERVING);
    const jsm = await jetstreamManager(control);
    const stream = streams.inventory.name;
    // The stream holds one message and takes no more: every publish is refused, as on a full disk.
    await jsm.streams.update(stream, { max_msgs: 1, discard: DiscardPolicy.New });
    await jetstream(control).publish("shop.inventory.v1.Filler", new Uint8Array(0));
    await databaseOf(served.running).transaction((tx) =>
      writeEvent(tx, { aggregateType: "health", aggregateId: "h-1", schema: StockRejectedSchema, event: create(StockRejectedSchema, { eventId: "health-1", orderId: "h-1" }) }),
    );

    const tookMs = await statusWithin(served.status, ServingStatus.NOT_SERVING, NOT_READY_AFTER_MS + 30_000);
    expect(tookMs).toBeGreaterThanOrEqual(NOT_READY_AFTER_MS - 2_000);
    expect(healthLines(served.logs).at(-1)).toMatch(/^health: NOT_SERVING \(publishing: outbox relay publishes failing for \d+ s \(last error: .*maximum messages/);

    await jsm.streams.update(stream, { max_msgs: -1 });
    // The failed row is tried again within the relay's longest retry delay (30 s).
    const backMs = await statusWithin(served.status, ServingStatus.SERVING, 45_000);
    console.info(`stream full: NOT_SERVING after ${tookMs} ms; limit lifted: SERVING after ${backMs} ms`);
    expect(healthLines(served.logs).at(-1)).toBe("health: SERVING again");
    expect((await jsm.streams.info(stream)).state.messages).toBe(2);
  }, 120_000);

  it("turns NOT_SERVING while NATS hangs with its connections open (SIGSTOP), not before the failure lasted, and SERVING once it answers", async () => {
    // The service has idled past NOT_READY_AFTER_MS before: pull heartbeats alone kept it serving.
    expect(await served.status()).toBe(ServingStatus.SERVING);
    nats.pause();
    let tookMs: number;
    try {
      tookMs = await statusWithin(served.status, ServingStatus.NOT_SERVING, NOT_READY_AFTER_MS + 30_000);
    } finally {
      nats.resume();
    }
    // Silence since the last heartbeat (at most 5 s before the pause) must last NOT_READY_AFTER_MS.
    expect(tookMs).toBeGreaterThanOrEqual(NOT_READY_AFTER_MS - 6_000);
    expect(healthLines(served.logs).at(-1)).toMatch(/^health: NOT_SERVING \(consuming: consumer inventory_shop_orders_v1_\w+ on SHOP_ORDERS: no answer from the broker for \d+ s/);
    const backMs = await statusWithin(served.status, ServingStatus.SERVING, 30_000);
    console.info(`NATS paused: NOT_SERVING after ${tookMs} ms; resumed: SERVING after ${backMs} ms`);
  }, 120_000);

  it("turns NOT_SERVING while NATS is down, though the connection is not closed, and SERVING once it is back", async () => {
    await nats.stop();
    let tookMs: number;
    try {
      expect(served.running.nats.isClosed()).toBe(false);
      tookMs = await statusWithin(served.status, ServingStatus.NOT_SERVING, NOT_READY_AFTER_MS + 30_000);
    } finally {
      await nats.start();
    }
    const backMs = await statusWithin(served.status, ServingStatus.SERVING, 30_000);
    console.info(`NATS stopped: NOT_SERVING after ${tookMs} ms; restarted: SERVING after ${backMs} ms`);
  }, 120_000);
});

describe("health of a service on Redis Streams", () => {
  let nats: NatsServer;
  let redis: RedisServer;
  let served: Awaited<ReturnType<typeof serveInventory>>;

  beforeAll(async () => {
    nats = await startNatsServer();
    redis = await startRedisServer();
    served = await serveInventory({ NATS_URL: nats.url, EVENT_BUS: "redis", EVENT_REDIS_URL: redis.url });
  }, startTimeoutMs);
  afterAll(async () => {
    redis?.resume();
    await cleanUp([() => served?.running.stop(), () => redis?.dispose(), () => nats?.dispose()]);
  });

  it("turns NOT_SERVING while the event bus's Redis hangs (SIGSTOP), naming the consumer group, and SERVING once it answers", async () => {
    await statusWithin(served.status, ServingStatus.SERVING, 10_000);
    redis.pause();
    let tookMs: number;
    try {
      tookMs = await statusWithin(served.status, ServingStatus.NOT_SERVING, NOT_READY_AFTER_MS + 30_000);
    } finally {
      redis.resume();
    }
    expect(tookMs).toBeGreaterThanOrEqual(NOT_READY_AFTER_MS - 2_000);
    expect(healthLines(served.logs).at(-1)).toMatch(/^health: NOT_SERVING \(consuming: consumer group inventory_shop_orders_v1_\w+ on SHOP_ORDERS: no answer from the broker for \d+ s/);
    const backMs = await statusWithin(served.status, ServingStatus.SERVING, 30_000);
    console.info(`Redis paused: NOT_SERVING after ${tookMs} ms; resumed: SERVING after ${backMs} ms`);
  }, 120_000);
});

describe("health of a service on PostgreSQL", () => {
  let nats: NatsServer;
  let postgres: PostgresServer;
  let served: Awaited<ReturnType<typeof serveInventory>>;

  beforeAll(async () => {
    nats = await startNatsServer();
    postgres = await startPostgresServer();
    served = await serveInventory({ NATS_URL: nats.url, DATABASE_URL: postgres.url });
    await waitUntilConsuming(served.running.nats, "inventory");
  }, startTimeoutMs);
  afterAll(async () => {
    await postgres?.resume();
    await cleanUp([() => served?.running.stop(), () => postgres?.dispose(), () => nats?.dispose()]);
  });

  it("turns NOT_SERVING once every check for 15 s found the database hung, and SERVING at the first that gets an answer", async () => {
    expect(await served.status()).toBe(ServingStatus.SERVING);
    await postgres.pause();
    let tookMs: number;
    try {
      tookMs = await statusWithin(served.status, ServingStatus.NOT_SERVING, NOT_READY_AFTER_MS + 30_000);
    } finally {
      await postgres.resume();
    }
    expect(tookMs).toBeGreaterThanOrEqual(NOT_READY_AFTER_MS);
    expect(healthLines(served.logs).at(-1)).toBe("health: NOT_SERVING (database: no answer within 2000 ms)");
    const backMs = await statusWithin(served.status, ServingStatus.SERVING, 30_000);
    console.info(`PostgreSQL paused: NOT_SERVING after ${tookMs} ms; resumed: SERVING after ${backMs} ms`);
  }, 120_000);
});
