// End to end on a private nats-server that the test stops and restarts: outbox -> relay ->
// JetStream -> event consumer with inbox. Nothing is lost and nothing applies twice (I1, I3).
import { create, createRegistry } from "@bufbuild/protobuf";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { eq, isNull, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "@protomesh/data";
import { createDeadLetterStore, createEventConsumer, createOutboxRelay, type EventBus, type EventConsumer, inbox, outbox, type OutboxRelay, withInbox, writeEvent } from "@protomesh/messaging";
import { createJetStreamBus } from "@protomesh/messaging/jetstream";
import { file_shop_orders_v1_events, type OrderPlaced, OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { type NatsServer, startNatsServer } from "../helpers/index.js";
import { type DatabaseBackend, pgliteBackend, postgresBackend, schema, type TestSchema } from "./backends.js";

const { accounts } = schema;
const registry = createRegistry(file_shop_orders_v1_events);
const STREAM = "ORDERS";

describe.each<DatabaseBackend>([pgliteBackend(), postgresBackend("outbox_js")])("outbox to JetStream on $name", (backend) => {
  let server: NatsServer;
  let nc: NatsConnection;
  let bus: EventBus;
  let database: Database<TestSchema>;
  const stoppers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
    await backend.setup();
    database = await backend.open();
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    bus = await createJetStreamBus(nc, { timeoutMs: 2_000 });
    await bus.ensureStream({ name: STREAM, subjects: ["shop.orders.v1.>"] });
  });
  afterAll(async () => {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    await bus.close();
    await nc.close();
    await backend.teardown();
    await server.dispose();
  });

  const startRelay = async (): Promise<OutboxRelay> => {
    const relay = createOutboxRelay({ database, publisher: bus }, { pollIntervalMs: 100, retry: { initialDelayMs: 100, maxDelayMs: 500 } });
    await relay.start();
    stoppers.push(() => relay.stop());
    return relay;
  };
  const startConsumer = async (): Promise<EventConsumer> => {
    const consumer = createEventConsumer(
      { subscriber: bus, registry, deadLetters: createDeadLetterStore(database.db) },
      { stream: STREAM, durable: "payments", filterSubject: "shop.orders.v1.OrderPlaced", ackWaitMs: 2_000, nakBackoff: { initialDelayMs: 100, maxDelayMs: 500 } },
      (event) =>
        database.db
          .transaction((tx) =>
            withInbox(tx, event, (t) =>
              t
                .update(accounts)
                .set({ balance: sql`${accounts.balance} + 1` })
                .where(eq(accounts.id, (event.message as OrderPlaced).orderId)),
            ),
          )
          .then(() => undefined),
    );
    await consumer.start();
    stoppers.push(() => consumer.stop());
    return consumer;
  };
  const place = (orderId: string) =>
    database.db.transaction(async (tx) => {
      await tx.insert(accounts).values({ id: orderId });
      await writeEvent(tx, { aggregateType: "order", aggregateId: orderId, schema: OrderPlacedSchema, event: create(OrderPlacedSchema, { orderId }) });
    });
  const applied = async () => (await database.db.select().from(accounts).where(eq(accounts.balance, 1))).length;

  it("loses nothing and applies nothing twice across a broker restart and a relay restart", async () => {
    let relay = await startRelay();
    await startConsumer();
    for (let i = 0; i < 20; i++) await place(`a-${i}`);
    await expect.poll(applied, { timeout: 15_000 }).toBe(20);

    // Broker down: writes still commit; the relay retries them with backoff.
    await server.stop();
    for (let i = 0; i < 20; i++) await place(`b-${i}`);
    await expect
      .poll(async () => (await database.db.select().from(outbox).where(sql`${outbox.attempts} > 0`)).length, { timeout: 15_000 })
      .toBeGreaterThan(0);

    // Relay restarts while the broker is still down, then the broker comes back.
    await relay.stop();
    relay = await startRelay();
    for (let i = 0; i < 10; i++) await place(`c-${i}`);
    await server.start();

    await expect.poll(applied, { timeout: 30_000 }).toBe(50);
    // A row may be consumed before the relay marks it: its mark waits up to markDelayMs for a claim.
    await expect.poll(() => database.db.select().from(outbox).where(isNull(outbox.publishedAt))).toEqual([]);
    const records = await database.db.select().from(inbox).where(eq(inbox.consumer, "payments"));
    expect(records).toHaveLength(50);
    const balances = await database.db.select().from(accounts);
    expect(balances.every((a) => a.balance === 1)).toBe(true);
  });
});
