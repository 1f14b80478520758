// The relay on a private PostgreSQL that the test stops and starts: it rides out the outage
// (queries fail, the LISTEN connection drops and reconnects) and publishes what was written after.
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "@protomesh/data";
import { createOutboxRelay, type OutboxRelay, writeEvent } from "@protomesh/messaging";
import { OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { type PostgresServer, startPostgresServer } from "../helpers/index.js";
import { migrationsFolder, schema, type TestSchema } from "./backends.js";
import { recordingPublisher } from "./recording-publisher.js";

describe("outbox relay across a PostgreSQL restart", () => {
  let server: PostgresServer;
  let database: Database<TestSchema>;
  let relay: OutboxRelay | undefined;
  beforeAll(async () => {
    server = await startPostgresServer();
    database = await openDatabase({ url: server.url, schema, migrationsFolder, connectTimeoutMs: 1_000 });
  });
  afterAll(async () => {
    await relay?.stop();
    await database.close();
    await server.dispose();
  });

  const place = (orderId: string) =>
    database.db.transaction((tx) =>
      writeEvent(tx, { aggregateType: "order", aggregateId: orderId, schema: OrderPlacedSchema, event: create(OrderPlacedSchema, { orderId }) }),
    );

  it("keeps running through the outage and publishes events written after it", async () => {
    const publisher = recordingPublisher();
    const errors: unknown[] = [];
    relay = createOutboxRelay({ database, publisher }, { pollIntervalMs: 200, onError: (e) => errors.push(e) });
    await relay.start();
    await place("before");
    await expect.poll(() => publisher.ids().length).toBe(1);

    await server.stop();
    await expect.poll(() => errors.length, { timeout: 10_000 }).toBeGreaterThan(0);
    await server.start();

    await expect.poll(() => place("after").then(() => true, () => false), { timeout: 15_000 }).toBe(true);
    await expect.poll(() => publisher.ids().length, { timeout: 15_000 }).toBe(2);
  });
});
