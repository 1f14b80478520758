// ProtomeshMessagingModule as an app uses it: options from a config provider, the database and
// NATS opened by the module, an RPC-like use case writing through the Outbox, `{ inbox: true }`
// handlers given their transaction by the transport, the relay started at bootstrap, and
// everything released at shutdown. Real PostgreSQL and NATS JetStream.
import "reflect-metadata";
import { create, createRegistry } from "@bufbuild/protobuf";
import { Controller, Injectable, Module, UseFilters } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { type AsyncMicroserviceOptions, Ctx, Payload } from "@nestjs/microservices";
import { jetstreamManager } from "@nats-io/jetstream";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "@protomesh/data";
import { createMemoryBus, createMemoryDeadLetters, type DeadLetterStore, inbox, type OutboxRelay } from "@protomesh/messaging";
import {
  EventContext,
  EventErrorFilter,
  EventTransport,
  DEAD_LETTERS,
  InjectDatabase,
  MESSAGING_DATABASE,
  OnEvent,
  Outbox,
  OUTBOX_RELAY,
  ProtomeshMessagingModule,
} from "@protomesh/messaging/nest";
import { file_shop_orders_v1_events, type OrderPlaced, OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { file_shop_payments_v1_events, PaymentCapturedSchema } from "protomesh/gen/shop/payments/v1/events_pb";
import { StockReservedSchema } from "protomesh/gen/shop/inventory/v1/events_pb";
import { createTestDatabase, freePort, SHARED_NATS_URL, streamJanitor, type TestDatabase, uniqueName } from "../helpers/index.js";
import { migrationsFolder, schema, type TestSchema } from "./backends.js";

const { accounts } = schema;

describe("ProtomeshMessagingModule (PostgreSQL, JetStream)", () => {
  const janitor = streamJanitor();
  const stream = janitor.track(uniqueName("PMT_MODULE"));
  const placedSubject = `${stream}.shop.orders.v1.OrderPlaced`;
  const capturedSubject = `${stream}.shop.payments.v1.PaymentCaptured`;
  let target: TestDatabase;
  const deliveries: { handler: string; orderId: string; count: number }[] = [];
  const committed: string[] = [];

  const CONFIG = Symbol("config");

  @Module({ providers: [{ provide: CONFIG, useFactory: () => ({ databaseUrl: target.url, natsUrl: SHARED_NATS_URL }) }], exports: [CONFIG] })
  class ConfigModule {}

  // A use case as an RPC handler would call it: its data and its event in one transaction.
  @Injectable()
  class Orders {
    constructor(
      @InjectDatabase() private readonly database: Database<TestSchema>,
      private readonly outbox: Outbox,
    ) {}

    place(orderId: string): Promise<string> {
      return this.database.db.transaction(async (tx) => {
        await tx.insert(accounts).values([{ id: `charge-${orderId}` }, { id: `audit-${orderId}` }]);
        return this.outbox.write(tx, {
          aggregateType: "order",
          aggregateId: orderId,
          schema: OrderPlacedSchema,
          event: create(OrderPlacedSchema, { eventId: `placed-${orderId}`, orderId }),
          subject: placedSubject,
        });
      });
    }
  }

  @Controller()
  @UseFilters(new EventErrorFilter())
  class PaymentsEvents {
    constructor(private readonly outbox: Outbox) {}

    // The saga step: its effect, the inbox row and the event it publishes commit together. Its
    // first delivery's after-commit work fails, as if the process died right after the commit:
    // the event comes back, and the inbox keeps it from charging twice.
    @OnEvent(OrderPlacedSchema, { subject: placedSubject, inbox: true })
    async charge(@Payload() event: OrderPlaced, @Ctx() context: EventContext): Promise<void> {
      deliveries.push({ handler: "charge", orderId: event.orderId, count: context.getDeliveryCount() });
      const tx = context.getTransaction<TestSchema>();
      await tx.update(accounts).set({ balance: sql`${accounts.balance} + 1` }).where(sql`${accounts.id} = ${`charge-${event.orderId}`}`);
      await this.outbox.write(tx, {
        aggregateType: "payment",
        aggregateId: event.orderId,
        schema: PaymentCapturedSchema,
        event: create(PaymentCapturedSchema, { eventId: `captured-${event.orderId}`, orderId: event.orderId }),
        subject: capturedSubject,
      });
      context.afterCommit(() => {
        committed.push(event.orderId);
        if (context.getDeliveryCount() === 1) throw new Error("process died after the commit");
      });
    }

    // A second consumer of the same events under a durable named by hand: its own inbox identity.
    @OnEvent(OrderPlacedSchema, { subject: placedSubject, durable: "payments_audit", inbox: true })
    async audit(@Payload() event: OrderPlaced, @Ctx() context: EventContext): Promise<void> {
      deliveries.push({ handler: "audit", orderId: event.orderId, count: context.getDeliveryCount() });
      await context
        .getTransaction<TestSchema>()
        .update(accounts)
        .set({ balance: sql`${accounts.balance} + 1` })
        .where(sql`${accounts.id} = ${`audit-${event.orderId}`}`);
    }
  }

  @Module({ controllers: [PaymentsEvents], providers: [Orders] })
  class PaymentsModule {}

  @Module({
    imports: [
      ProtomeshMessagingModule.forRootAsync({
        imports: [ConfigModule],
        inject: [CONFIG],
        useFactory: (config: { databaseUrl: string; natsUrl: string }) => ({
          service: "payments",
          database: { url: config.databaseUrl, migrationsFolder },
          bus: { jetstream: { servers: config.natsUrl } },
          publishes: { name: stream, subjects: [`${stream}.>`] },
          consumes: [{ name: stream, subjects: [`${stream}.>`] }],
          registry: createRegistry(file_shop_orders_v1_events, file_shop_payments_v1_events),
          relay: { pollIntervalMs: 100 },
          consumerDefaults: { nakBackoff: { initialDelayMs: 20, maxDelayMs: 50 } },
        }),
      }),
      PaymentsModule,
    ],
  })
  class AppModule {}

  beforeAll(async () => {
    target = await createTestDatabase("messaging_module");
  });
  afterAll(async () => {
    await janitor.cleanup();
    await target.drop();
  });

  it("writes, relays and applies each event once per consumer, and releases everything at shutdown", async () => {
    const app = await NestFactory.createMicroservice<AsyncMicroserviceOptions>(AppModule, {
      inject: [EventTransport],
      useFactory: (transport: EventTransport) => ({ strategy: transport }),
      logger: false,
    } as AsyncMicroserviceOptions);
    const database = app.get<Database<TestSchema>>(MESSAGING_DATABASE);
    const relay = app.get<OutboxRelay>(OUTBOX_RELAY);
    let closed = false;
    try {
      await app.listen();
      const orders = Array.from({ length: 8 }, (_, i) => `order-${i}`);
      for (const orderId of orders) await app.get(Orders).place(orderId);

      const balances = async (prefix: string) =>
        (await database.db.select().from(accounts).where(sql`${accounts.id} like ${`${prefix}%`}`).orderBy(accounts.id)).map((row) => row.balance);
      await expect.poll(() => balances("charge-"), { timeout: 20_000 }).toEqual(orders.map(() => 1));
      await expect.poll(() => balances("audit-"), { timeout: 20_000 }).toEqual(orders.map(() => 1));
      // Each handler ran once per event on its own consumer, though Nest chains handlers of one subject.
      expect(deliveries.filter((d) => d.handler === "charge").map((d) => d.orderId).sort()).toEqual([...orders].sort());
      expect(deliveries.filter((d) => d.handler === "audit").map((d) => d.orderId).sort()).toEqual([...orders].sort());
      // Every charge came back after its after-commit failure, and the inbox skipped it.
      const jsm = await jetstreamManager(await janitor.connect());
      const chargeConsumer = `payments_${placedSubject.replaceAll(".", "_")}`;
      await expect.poll(async () => (await jsm.consumers.info(stream, chargeConsumer)).delivered.consumer_seq, { timeout: 20_000 }).toBe(orders.length * 2);
      expect((await jsm.consumers.info(stream, "payments_audit")).delivered.consumer_seq).toBe(orders.length);
      expect(await balances("charge-")).toEqual(orders.map(() => 1));
      expect(deliveries).toHaveLength(orders.length * 2);
      expect(committed.sort()).toEqual([...orders].sort());

      // The relay the module started published the placed events and the captured events the
      // handler wrote in its transaction.
      await expect.poll(async () => (await jsm.streams.info(stream)).state.messages, { timeout: 20_000 }).toBe(orders.length * 2);

      // One inbox identity per consumer, each a durable the stream really has.
      const durables = (await jsm.consumers.list(stream).next()).map((info) => info.name).sort();
      const inboxConsumers = (await database.db.selectDistinct({ consumer: inbox.consumer }).from(inbox)).map((row) => row.consumer).sort();
      expect(durables).toContain("payments_audit");
      expect(inboxConsumers).toEqual(durables);

      // An event of a type the module's registry does not know goes to its dead letters.
      await database.db.transaction((tx) =>
        app.get(Outbox).write(tx, {
          aggregateType: "stock",
          aggregateId: "unknown",
          schema: StockReservedSchema,
          event: create(StockReservedSchema, { eventId: "reserved-unknown", orderId: "order-x" }),
          subject: placedSubject,
        }),
      );
      const deadLetters = app.get<DeadLetterStore>(DEAD_LETTERS);
      // One copy per consumer that received it: the charge's and the audit's.
      await expect.poll(() => deadLetters.list(), { timeout: 20_000 }).toHaveLength(2);
      const letters = await deadLetters.list();
      expect(letters.map((letter) => letter.consumer).sort()).toEqual([`payments_${placedSubject.replaceAll(".", "_")}`, "payments_audit"].sort());
      expect(letters.every((letter) => letter.eventId === "reserved-unknown" && letter.reason.startsWith("undecodable"))).toBe(true);

      await app.close();
      closed = true;
      expect(relay.readiness()).toMatchObject({ ready: false });
      await expect(database.ready()).rejects.toThrow();
    } finally {
      if (!closed) await app.close();
    }
  });

  it("fails the bootstrap naming NATS when it cannot be reached, and keeps no database open", async () => {
    const port = await freePort();
    @Module({
      imports: [
        ProtomeshMessagingModule.forRoot({
          service: "payments",
          database: { url: target.url, migrationsFolder, applicationName: "messaging-module-unreachable" },
          bus: { jetstream: { servers: `nats://127.0.0.1:${port}`, connectTimeoutMs: 2_000 } },
        }),
      ],
    })
    class UnreachableModule {}
    await expect(NestFactory.createApplicationContext(UnreachableModule, { logger: false, abortOnError: false })).rejects.toThrow(
      `ProtomeshMessagingModule: cannot reach NATS at nats://127.0.0.1:${port}`,
    );
    const owner = await createTestDatabase("messaging_module_probe");
    try {
      const { openDatabase } = await import("@protomesh/data");
      const probe = await openDatabase({ url: owner.url });
      const open = await probe.db.execute(sql`select count(*)::int as n from pg_stat_activity where application_name = 'messaging-module-unreachable'`);
      await probe.close();
      expect((open.rows[0] as { n: number }).n).toBe(0);
    } finally {
      await owner.drop();
    }
  });

  it("refuses an { inbox: true } handler on a transport without a database, naming its subject", async () => {
    @Controller()
    class Orphan {
      @OnEvent(OrderPlacedSchema, { subject: "orphan.placed", inbox: true })
      placed(): void {}
    }
    @Module({ controllers: [Orphan] })
    class OrphanModule {}
    const app = await NestFactory.createMicroservice(OrphanModule, {
      strategy: new EventTransport({
        bus: createMemoryBus(),
        registry: createRegistry(file_shop_orders_v1_events),
        deadLetters: createMemoryDeadLetters(),
        service: "orders",
        streams: [{ name: "ORPHAN", subjects: ["orphan.>"] }],
      }),
      logger: false,
    });
    try {
      await expect(app.listen()).rejects.toThrow('the handler of event subject "orphan.placed" asks for { inbox: true }, but EventTransport has no database');
    } finally {
      await app.close();
    }
  });
});
