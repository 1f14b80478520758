import { create, createRegistry, toBinary } from "@bufbuild/protobuf";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, describe, expect, it } from "vitest";
import { createEventConsumer, createMemoryDeadLetters, EventHeaders } from "@protomesh/messaging";
import { createJetStreamBus } from "@protomesh/messaging/jetstream";
import { file_shop_orders_v1_events, type OrderPlaced, OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { streamJanitor, uniqueName } from "../helpers/index.js";

describe("JetStream bus", () => {
  const janitor = streamJanitor();
  afterAll(() => janitor.cleanup());

  it("recreates its durable consumer and keeps consuming after the consumer was deleted", async () => {
    const nc = await janitor.connect();
    const errors: unknown[] = [];
    const bus = await createJetStreamBus(nc, { resubscribeDelayMs: 200, onError: (e) => errors.push(e) });
    const stream = janitor.track(uniqueName("PMT_JSBUS"));
    const subject = `${stream}.placed`;
    await bus.ensureStream({ name: stream, subjects: [`${stream}.>`] });
    const seen: string[] = [];
    const consumer = createEventConsumer(
      { subscriber: bus, registry: createRegistry(file_shop_orders_v1_events), deadLetters: createMemoryDeadLetters() },
      { stream, durable: "svc", filterSubject: subject },
      (e) => {
        seen.push((e.message as OrderPlaced).orderId);
        return Promise.resolve();
      },
    );
    await consumer.start();
    const publish = (orderId: string) =>
      bus.publish({
        subject,
        data: toBinary(OrderPlacedSchema, create(OrderPlacedSchema, { orderId })),
        headers: { [EventHeaders.eventType]: OrderPlacedSchema.typeName },
        messageId: orderId,
      });
    await publish("before");
    await expect.poll(() => seen).toEqual(["before"]);

    const jsm = await jetstreamManager(nc);
    await jsm.consumers.delete(stream, "svc");
    await publish("after");
    // A recreated consumer starts from the first message again: "before" comes back too.
    await expect.poll(() => seen.includes("after"), { timeout: 20_000 }).toBe(true);
    await consumer.stop();
    await bus.close();
  });
});
