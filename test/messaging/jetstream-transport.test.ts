import "reflect-metadata";
import { createRegistry, create } from "@bufbuild/protobuf";
import {
  type CallHandler,
  Controller,
  type ExecutionContext,
  Inject,
  Injectable,
  Module,
  type NestInterceptor,
  UseFilters,
  UseInterceptors,
} from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { Ctx, type MicroserviceOptions, Payload } from "@nestjs/microservices";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "protomesh/kit/data";
import {
  createDeadLetterStore,
  createJetStreamBus,
  createOutboxRelay,
  deadLetters,
  EventErrorFilter,
  type EventBus,
  JetStreamContext,
  JetStreamTransport,
  OnEvent,
  type OutboxRelay,
  withInbox,
  writeEvent,
} from "protomesh/kit/messaging";
import { file_shop_orders_v1_events, type OrderPlaced, OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { streamJanitor, uniqueName } from "../helpers/index.js";
import { postgresBackend, schema, type TestSchema } from "./backends.js";

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

describe("JetStreamTransport in a Nest app (NATS, PostgreSQL)", () => {
  const backend = postgresBackend("nest_js");
  const janitor = streamJanitor();
  const stream = janitor.track(uniqueName("PMT_NEST"));
  const subject = `${stream}.shop.orders.v1.OrderPlaced`;
  let database: Database<TestSchema>;
  let bus: EventBus;
  let relay: OutboxRelay;
  const handled: { orderId: string; deliveries: number; eventId: string }[] = [];

  @Controller()
  @UseFilters(new EventErrorFilter())
  @UseInterceptors(CountingInterceptor)
  class PaymentsEvents {
    constructor(@Inject(DATABASE) private readonly db: Database<TestSchema>) {}

    @OnEvent(OrderPlacedSchema, { subject, maxDeliver: 2, nakBackoff: { initialDelayMs: 50, maxDelayMs: 100 } })
    async placed(@Payload() event: OrderPlaced, @Ctx() ctx: JetStreamContext): Promise<void> {
      handled.push({ orderId: event.orderId, deliveries: ctx.getDeliveryCount(), eventId: ctx.getEventId() });
      if (event.orderId.startsWith("poison")) throw new Error(`cannot charge ${event.orderId}`);
      await this.db.db.transaction((tx) =>
        withInbox(tx, "payments", ctx.getEventId(), (t) =>
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
      strategy: new JetStreamTransport({
        bus,
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

  it("delivers events written in the outbox to the Nest handler, once each; poison goes to the dead letters", async () => {
    const app = await startApp();
    try {
      await relay.start();
      for (let i = 0; i < 10; i++) await place(`order-${i}`);
      await place("poison-1");
      await expect
        .poll(async () => (await database.db.select().from(accounts).where(eq(accounts.balance, 1))).length, { timeout: 10_000 })
        .toBe(10);
      await expect.poll(async () => (await database.db.select().from(deadLetters)).length, { timeout: 10_000 }).toBe(1);
      const [letter] = await database.db.select().from(deadLetters);
      expect(letter).toMatchObject({ stream, subject, deliveries: 2, eventId: "placed-poison-1", reason: "cannot charge poison-1" });
      expect(handled.filter((h) => h.orderId === "poison-1").map((h) => h.deliveries)).toEqual([1, 2]);
      expect(handled.filter((h) => h.orderId.startsWith("order-")).every((h) => h.deliveries === 1)).toBe(true);
    } finally {
      await app.close();
    }
  });

  it("shares each handler's durable consumer between two app replicas, each event handled once", async () => {
    CountingInterceptor.calls.clear();
    const before = handled.length;
    const apps = [await startApp("replica-1"), await startApp("replica-2")];
    try {
      for (let i = 0; i < 30; i++) await place(`rep-${i}`);
      await expect
        .poll(async () => (await database.db.select().from(accounts).where(sql`${accounts.id} like 'rep-%' and ${accounts.balance} = 1`)).length, {
          timeout: 15_000,
        })
        .toBe(30);
      const mine = handled.slice(before).filter((h) => h.orderId.startsWith("rep-"));
      expect(new Set(mine.map((h) => h.eventId)).size).toBe(30);
      expect(mine).toHaveLength(30);
      expect(CountingInterceptor.calls.get("replica-1")).toBeGreaterThan(0);
      expect(CountingInterceptor.calls.get("replica-2")).toBeGreaterThan(0);
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
      strategy: new JetStreamTransport({ bus, registry, deadLetters: createDeadLetterStore(database.db), service: "orphan", streams: [] }),
      logger: false,
    });
    await expect(app.listen()).rejects.toThrow(/no declared stream captures event subject "nowhere/);
    await app.close();
  });
});
