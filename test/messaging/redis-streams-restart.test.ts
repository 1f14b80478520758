// The Redis Streams bus against a private redis-server that is killed, restarted empty, or
// stalled: subscribers survive, and what Redis still holds is delivered once.
import { setTimeout as sleep } from "node:timers/promises";
import { create, createRegistry, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEventConsumer, createMemoryDeadLetters, type EventBus, EventHeaders } from "@protomesh/messaging";
import { file_shop_orders_v1_events, type OrderPlaced, OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { startRedisServer, type RedisServer } from "../helpers/index.js";
import { redisStreamsHarness, type RedisStreamsHarness } from "./redis-streams-harness.js";

const registry = createRegistry(file_shop_orders_v1_events);

describe("Redis Streams bus on a private redis-server", () => {
  let server: RedisServer;
  let harness: RedisStreamsHarness;
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    harness = redisStreamsHarness(server.url);
  });
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await harness.cleanup().catch(() => undefined);
    await server.dispose();
  });

  async function consumerOn(bus: EventBus, stream: string, subject: string, seen: string[]) {
    await bus.ensureStream({ name: stream, subjects: [`${stream}.>`] });
    const consumer = createEventConsumer(
      { subscriber: bus, registry, deadLetters: createMemoryDeadLetters() },
      { stream, durable: "orders", filterSubject: subject, ackWaitMs: 3_000 },
      (e) => Promise.resolve(void seen.push(`${(e.message as OrderPlaced).orderId}#${e.deliveryCount}`)),
    );
    await consumer.start();
    stops.push(() => consumer.stop());
  }
  const message = (subject: string, orderId: string) => {
    const event = create(OrderPlacedSchema, { eventId: `evt-${orderId}`, orderId });
    return { subject, data: toBinary(OrderPlacedSchema, event), headers: { [EventHeaders.eventType]: OrderPlacedSchema.typeName }, messageId: event.eventId };
  };

  it("rejects publishes while Redis is down; after an empty restart the subscriber recreates its group and delivers again", async () => {
    const errors: unknown[] = [];
    const { bus } = harness.open({ onError: (err) => errors.push(err) });
    const stream = harness.streamName();
    const subject = `${stream}.placed`;
    const seen: string[] = [];
    await consumerOn(bus, stream, subject, seen);
    const before = await bus.publish(message(subject, "before"));
    await expect.poll(() => seen).toEqual(["before#1"]);

    await server.kill();
    await expect(bus.publish(message(subject, "while-down"))).rejects.toThrow();
    await expect.poll(() => errors.length, { timeout: 5_000 }).toBeGreaterThan(0);

    await server.start();
    // The publisher reconnects on its own; the outbox relay would simply retry its row.
    let after = 0;
    await expect
      .poll(() => bus.publish(message(subject, "after")).then((ack) => ((after = ack.sequence), "stored"), () => "rejected"), { timeout: 10_000 })
      .toBe("stored");
    await expect.poll(() => seen, { timeout: 10_000 }).toEqual(["before#1", "after#1"]);
    // Redis lost the counter too; sequences still grow, so dead letters (unique per sequence) never collide.
    expect(after).toBeGreaterThan(before.sequence);
  });

  it("loses nothing while Redis is stalled: an ack and a publish made meanwhile land once it resumes", async () => {
    const { bus } = harness.open();
    const stream = harness.streamName();
    const subject = `${stream}.placed`;
    const seen: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await bus.ensureStream({ name: stream, subjects: [`${stream}.>`] });
    const consumer = createEventConsumer(
      { subscriber: bus, registry, deadLetters: createMemoryDeadLetters() },
      { stream, durable: "orders", filterSubject: subject, ackWaitMs: 4_000 },
      async (e) => {
        const { orderId } = e.message as OrderPlaced;
        seen.push(`${orderId}#${e.deliveryCount}`);
        if (orderId === "in-flight") await gate;
      },
    );
    await consumer.start();
    stops.push(() => consumer.stop());
    await bus.publish(message(subject, "in-flight"));
    await expect.poll(() => seen).toEqual(["in-flight#1"]);

    server.pause();
    let published: Promise<unknown>;
    try {
      release();
      published = bus.publish(message(subject, "during-stall"));
      await sleep(1_500);
    } finally {
      server.resume();
    }
    await expect(published).resolves.toMatchObject({ duplicate: false });
    await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(2);
    // Past the ack wait: the ack sent during the stall was applied, so nothing comes back.
    await sleep(4_500);
    expect(seen).toEqual(["in-flight#1", "during-stall#1"]);
  });
});
