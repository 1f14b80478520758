// The inbox key of a handler is its consumer's identity. Two handlers of one service that consume
// the same event under their own durables (one of them named by hand) must each apply it once,
// through redeliveries too; real NATS and PostgreSQL.
import "reflect-metadata";
import { create, createRegistry } from "@bufbuild/protobuf";
import { Controller, Inject, Module, UseFilters } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { Ctx, type MicroserviceOptions, Payload } from "@nestjs/microservices";
import { jetstreamManager } from "@nats-io/jetstream";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database, Executor } from "@protomesh/data";
import { applyOnce, createDeadLetterStore, createOutboxRelay, type EventBus, inbox, type OutboxRelay, writeEvent } from "@protomesh/messaging";
import { createJetStreamBus } from "@protomesh/messaging/jetstream";
import { EventContext, EventErrorFilter, EventTransport, OnEvent } from "@protomesh/messaging/nest";
import { file_shop_orders_v1_events, type OrderPlaced, OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { streamJanitor, uniqueName } from "../helpers/index.js";
import { postgresBackend, schema, type TestSchema } from "./backends.js";

const { accounts } = schema;
const DATABASE = Symbol("database");
const registry = createRegistry(file_shop_orders_v1_events);

describe("inbox identity of event handlers (JetStream, PostgreSQL)", () => {
  const janitor = streamJanitor();
  const backend = postgresBackend("inbox_identity");
  const stream = janitor.track(uniqueName("PMT_INBOXID"));
  const placedSubject = `${stream}.shop.orders.v1.OrderPlaced`;
  let database: Database<TestSchema>;
  let bus: EventBus;
  let relay: OutboxRelay;
  const auditDeliveries: number[] = [];

  const credit = (tx: Executor, account: string) =>
    tx.update(accounts).set({ balance: sql`${accounts.balance} + 1` }).where(eq(accounts.id, account));

  @Controller()
  @UseFilters(new EventErrorFilter())
  class PaymentsEvents {
    constructor(@Inject(DATABASE) private readonly database: Database<TestSchema>) {}

    // The saga's handler, on the durable the transport names.
    @OnEvent(OrderPlacedSchema, { subject: placedSubject })
    async charge(@Payload() event: OrderPlaced, @Ctx() context: EventContext): Promise<void> {
      await applyOnce(this.database.db, context.getEvent(), (tx) => credit(tx, `charge-${event.orderId}`));
    }

    // An audit trail of every order event under a durable named by hand. Its first delivery of
    // each event commits and then fails, as if the ack were lost: every event comes back.
    @OnEvent(OrderPlacedSchema, { subject: `${stream}.shop.orders.v1.*`, durable: "payments_order_audit" })
    async audit(@Payload() event: OrderPlaced, @Ctx() context: EventContext): Promise<void> {
      auditDeliveries.push(context.getDeliveryCount());
      await applyOnce(this.database.db, context.getEvent(), (tx) => credit(tx, `audit-${event.orderId}`));
      if (context.getDeliveryCount() === 1) throw new Error("ack lost after commit");
    }
  }

  @Module({ controllers: [PaymentsEvents], providers: [{ provide: DATABASE, useFactory: () => database }] })
  class PaymentsModule {}

  const place = (orderId: string) =>
    database.db.transaction(async (tx) => {
      await tx.insert(accounts).values([
        { id: `charge-${orderId}`, balance: 0 },
        { id: `audit-${orderId}`, balance: 0 },
      ]);
      await writeEvent(tx, {
        aggregateType: "order",
        aggregateId: orderId,
        schema: OrderPlacedSchema,
        event: create(OrderPlacedSchema, { eventId: `placed-${orderId}`, orderId }),
        subject: placedSubject,
      });
    });
  const balances = async (prefix: string) =>
    (await database.db.select().from(accounts).where(sql`${accounts.id} like ${`${prefix}%`}`)).map((row) => row.balance);

  beforeAll(async () => {
    await backend.setup();
    database = await backend.open();
    bus = await createJetStreamBus(await janitor.connect());
    relay = createOutboxRelay({ database, publisher: bus }, { pollIntervalMs: 100 });
  });
  afterAll(async () => {
    await relay.stop();
    await bus.close();
    await janitor.cleanup();
    await backend.teardown();
  });

  it("applies each event once per handler when one handler's durable is overridden, redeliveries included", async () => {
    const app = await NestFactory.createMicroservice<MicroserviceOptions>(PaymentsModule, {
      strategy: new EventTransport({
        bus,
        registry,
        deadLetters: createDeadLetterStore(database.db),
        service: "payments",
        streams: [{ name: stream, subjects: [`${stream}.>`] }],
        consumerDefaults: { nakBackoff: { initialDelayMs: 20, maxDelayMs: 50 } },
      }),
      logger: false,
    });
    try {
      await app.listen();
      await relay.start();
      const orders = Array.from({ length: 10 }, (_, i) => `order-${i}`);
      for (const orderId of orders) await place(orderId);

      await expect.poll(() => balances("audit-"), { timeout: 15_000 }).toEqual(orders.map(() => 1));
      await expect.poll(() => balances("charge-"), { timeout: 15_000 }).toEqual(orders.map(() => 1));
      // The audit really saw each event again, and the second run changed nothing.
      await expect.poll(() => auditDeliveries.filter((count) => count === 2).length, { timeout: 15_000 }).toBe(orders.length);
      expect(await balances("audit-")).toEqual(orders.map(() => 1));

      // Every inbox record is kept under a consumer the stream really has.
      const jsm = await jetstreamManager(await janitor.connect());
      const durables = (await jsm.consumers.list(stream).next()).map((info) => info.name).sort();
      const inboxConsumers = (await database.db.selectDistinct({ consumer: inbox.consumer }).from(inbox)).map((row) => row.consumer).sort();
      expect(inboxConsumers).toEqual(durables);
    } finally {
      await app.close();
    }
  });
});
