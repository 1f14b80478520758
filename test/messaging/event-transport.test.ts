// One Nest event controller, written once, served by EventTransport on JetStream and on Redis
// Streams: choosing the bus changes the wiring, never the handlers.
import "reflect-metadata";
import { create, createRegistry } from "@bufbuild/protobuf";
import { type CallHandler, Controller, type ExecutionContext, Inject, Injectable, Module, type NestInterceptor, UseFilters, UseInterceptors } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { Ctx, type MicroserviceOptions, Payload } from "@nestjs/microservices";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "@protomesh/data";
import { createDeadLetterStore, createOutboxRelay, deadLetters, type EventBus, type OutboxRelay, withInbox, writeEvent } from "@protomesh/messaging";
import { createJetStreamBus } from "@protomesh/messaging/jetstream";
import { EventContext, EventErrorFilter, EventTransport, OnEvent } from "@protomesh/messaging/nest";
import { file_shop_orders_v1_events, type OrderPlaced, OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { streamJanitor, uniqueName } from "../helpers/index.js";
import { postgresBackend, schema, type TestSchema } from "./backends.js";
import { redisStreamsHarness } from "./redis-streams-harness.js";

const { accounts } = schema;
const DATABASE = Symbol("database");
const INSTANCE = Symbol("instance");
const registry = createRegistry(file_shop_orders_v1_events);

/** Counts handler calls per app instance: proves Nest's pipeline runs around event handlers. */
@Injectable()
class CountingInterceptor implements NestInterceptor {
  static readonly calls = new Map<string, number>();
  constructor(@Inject(INSTANCE) private readonly instance: string) {}
  intercept(context: ExecutionContext, next: CallHandler) {
    expect(context.getType()).toBe("rpc");
    CountingInterceptor.calls.set(this.instance, (CountingInterceptor.calls.get(this.instance) ?? 0) + 1);
    return next.handle();
  }
}

interface BusUnderTest {
  name: string;
  /** A stream name unique to this run, removed in cleanup(). */
  streamName(): string;
  open(): Promise<EventBus>;
  cleanup(): Promise<void>;
}

const jetstream = (): BusUnderTest => {
  const janitor = streamJanitor();
  return {
    name: "JetStream",
    streamName: () => janitor.track(uniqueName("PMT_NESTBUS")),
    open: async () => createJetStreamBus(await janitor.connect()),
    cleanup: () => janitor.cleanup(),
  };
};
const redisStreams = (): BusUnderTest => {
  const harness = redisStreamsHarness();
  return { name: "Redis Streams", streamName: () => harness.streamName(), open: () => Promise.resolve(harness.open().bus), cleanup: () => harness.cleanup() };
};

describe.each([jetstream(), redisStreams()])("EventTransport in a Nest app on $name (PostgreSQL)", (busUnderTest) => {
  const backend = postgresBackend("nest_bus");
  const stream = busUnderTest.streamName();
  const subject = `${stream}.shop.orders.v1.OrderPlaced`;
  const handled: { orderId: string; deliveries: number; eventId: string }[] = [];
  let database: Database<TestSchema>;
  let bus: EventBus;
  let relay: OutboxRelay;

  // What a service team writes; nothing in it names a bus.
  @Controller()
  @UseFilters(new EventErrorFilter())
  @UseInterceptors(CountingInterceptor)
  class PaymentsEvents {
    constructor(@Inject(DATABASE) private readonly db: Database<TestSchema>) {}

    @OnEvent(OrderPlacedSchema, { subject, maxDeliver: 2, nakBackoff: { initialDelayMs: 50, maxDelayMs: 100 } })
    async placed(@Payload() event: OrderPlaced, @Ctx() ctx: EventContext): Promise<void> {
      handled.push({ orderId: event.orderId, deliveries: ctx.getDeliveryCount(), eventId: ctx.getEventId() });
      if (event.orderId.startsWith("poison")) throw new Error(`cannot charge ${event.orderId}`);
      await this.db.db.transaction((tx) =>
        withInbox(tx, ctx.getEvent(), (t) =>
          t.update(accounts).set({ balance: sql`${accounts.balance} + 1` }).where(eq(accounts.id, event.orderId)),
        ),
      );
    }
  }

  const startApp = async (instance = "replica-1") => {
    @Module({
      controllers: [PaymentsEvents],
      providers: [
        { provide: DATABASE, useValue: database },
        { provide: INSTANCE, useValue: instance },
      ],
    })
    class PaymentsModule {}
    const app = await NestFactory.createMicroservice<MicroserviceOptions>(PaymentsModule, {
      strategy: new EventTransport({
        bus: await busUnderTest.open(),
        registry,
        deadLetters: createDeadLetterStore(database.db),
        service: "payments",
        streams: [{ name: stream, subjects: [`${stream}.>`] }],
      }),
      logger: false,
    });
    await app.listen();
    return app;
  };

  const place = (orderId: string) =>
    database.db.transaction(async (tx) => {
      await tx.insert(accounts).values({ id: orderId, balance: 0 });
      await writeEvent(tx, {
        aggregateType: "order",
        aggregateId: orderId,
        schema: OrderPlacedSchema,
        event: create(OrderPlacedSchema, { eventId: `placed-${orderId}`, orderId }),
        subject,
      });
    });
  const credited = async (prefix: string) =>
    (await database.db.select().from(accounts).where(sql`${accounts.id} like ${`${prefix}%`} and ${accounts.balance} = 1`)).length;

  beforeAll(async () => {
    await backend.setup();
    database = await backend.open();
    bus = await busUnderTest.open();
    relay = createOutboxRelay({ database, publisher: bus }, { pollIntervalMs: 100 });
  });
  afterAll(async () => {
    await relay.stop();
    await bus.close();
    await busUnderTest.cleanup();
    await backend.teardown();
  });

  it("runs the handler once per event from the outbox, and dead-letters poison after maxDeliver", async () => {
    const app = await startApp();
    try {
      await relay.start();
      for (let i = 0; i < 10; i++) await place(`order-${i}`);
      await place("poison-1");
      await expect.poll(() => credited("order-"), { timeout: 10_000 }).toBe(10);
      await expect.poll(async () => (await database.db.select().from(deadLetters)).length, { timeout: 10_000 }).toBe(1);
      const [letter] = await database.db.select().from(deadLetters);
      expect(letter).toMatchObject({ stream, subject, deliveries: 2, eventId: "placed-poison-1", reason: "cannot charge poison-1" });
      expect(handled.filter((h) => h.orderId === "poison-1").map((h) => h.deliveries)).toEqual([1, 2]);
      expect(handled.filter((h) => h.orderId.startsWith("order-")).every((h) => h.deliveries === 1)).toBe(true);
    } finally {
      await app.close();
    }
  });

  it("shares the handler's durable consumer between two app replicas, each event handled once, through Nest's pipeline", async () => {
    CountingInterceptor.calls.clear();
    const before = handled.length;
    const apps = [await startApp("replica-1"), await startApp("replica-2")];
    try {
      for (let i = 0; i < 30; i++) await place(`rep-${i}`);
      await expect.poll(() => credited("rep-"), { timeout: 15_000 }).toBe(30);
      const mine = handled.slice(before).filter((h) => h.orderId.startsWith("rep-"));
      expect(new Set(mine.map((h) => h.eventId)).size).toBe(30);
      expect(mine).toHaveLength(30);
      // Every handler call went through the interceptor of the app that ran it.
      const intercepted = [...CountingInterceptor.calls.values()].reduce((sum, n) => sum + n, 0);
      expect(intercepted).toBe(handled.length - before);
    } finally {
      await Promise.all(apps.map((app) => app.close()));
    }
  });

  it("refuses to start when no declared stream captures a handler's subject", async () => {
    @Controller()
    class Orphan {
      @OnEvent(OrderPlacedSchema, { subject: "nowhere.shop.orders.v1.OrderPlaced" })
      placed(): void {}
    }
    @Module({ controllers: [Orphan] })
    class OrphanModule {}
    const app = await NestFactory.createMicroservice<MicroserviceOptions>(OrphanModule, {
      strategy: new EventTransport({ bus, registry, deadLetters: createDeadLetterStore(database.db), service: "orphan", streams: [] }),
      logger: false,
    });
    await expect(app.listen()).rejects.toThrow(/no declared stream captures event subject "nowhere/);
    await app.close();
  });
});
