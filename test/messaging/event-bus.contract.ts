// The contract every EventBus must pass (the in-memory fake and JetStream alike), exercised
// through the event consumer that services use.
import { setTimeout as sleep } from "node:timers/promises";
import { create, createRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, describe, expect, it } from "vitest";
import { createEventConsumer, createMemoryDeadLetters, type EventBus, type EventConsumerOptions, EventHeaders, type ReceivedEvent } from "@protomesh/messaging";
import { file_shop_orders_v1_events, type OrderPlaced, OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";

export interface BusConnection {
  bus: EventBus;
  /** Drops the connection like a crashed process (no acks, no drain). */
  crash(): Promise<void>;
}

export interface BusHarness {
  name: string;
  connect(): Promise<BusConnection>;
  /** A stream name unique to this run; the harness deletes it in cleanup. */
  streamName(): string;
  cleanup(): Promise<void>;
}

const registry = createRegistry(file_shop_orders_v1_events);

function placed(orderId: string) {
  const event = create(OrderPlacedSchema, { eventId: `evt-${orderId}`, orderId });
  return {
    data: toBinary(OrderPlacedSchema, event),
    headers: { [EventHeaders.eventType]: OrderPlacedSchema.typeName, [EventHeaders.eventId]: event.eventId },
    messageId: event.eventId,
  };
}

export function eventBusContract(harness: BusHarness): void {
  describe(`EventBus contract: ${harness.name}`, () => {
    const closers: (() => Promise<void>)[] = [];
    afterAll(async () => {
      for (const close of closers.reverse()) await close().catch(() => undefined);
      await harness.cleanup();
    });

    async function setup() {
      const conn = await harness.connect();
      closers.push(() => conn.bus.close());
      const stream = harness.streamName();
      await conn.bus.ensureStream({ name: stream, subjects: [`${stream}.>`], duplicateWindowMs: 60_000 });
      const subject = `${stream}.placed`;
      const publish = (orderId: string) => conn.bus.publish({ subject, ...placed(orderId) });
      const options: EventConsumerOptions = {
        stream,
        durable: "orders",
        filterSubject: subject,
        concurrency: 4,
        maxDeliver: 3,
        ackWaitMs: 2_000,
        nakBackoff: { initialDelayMs: 50, maxDelayMs: 200 },
      };
      return { conn, stream, subject, publish, options };
    }

    function consume(bus: EventBus, options: EventConsumerOptions, handler: (e: ReceivedEvent) => Promise<void>) {
      const deadLetters = createMemoryDeadLetters();
      const consumer = createEventConsumer({ subscriber: bus, registry, deadLetters }, options, handler);
      closers.push(() => consumer.stop());
      return { consumer, deadLetters };
    }

    it("delivers each published event, decoded, to a durable consumer and acks it once", async () => {
      const { conn, publish, options } = await setup();
      const seen: string[] = [];
      const { consumer } = consume(conn.bus, options, (e) => {
        seen.push(`${(e.message as OrderPlaced).orderId}#${e.deliveryCount}@${e.eventId}`);
        return Promise.resolve();
      });
      await consumer.start();
      for (const id of ["a", "b", "c", "d", "e"]) await publish(id);
      await expect.poll(() => seen.length).toBe(5);
      await sleep(300);
      expect(seen.sort()).toEqual(["a#1@evt-a", "b#1@evt-b", "c#1@evt-c", "d#1@evt-d", "e#1@evt-e"]);
    });

    it("names on each event the durable consumer it came through, the inbox key's other half", async () => {
      const { conn, publish, options } = await setup();
      const seen: string[] = [];
      for (const durable of ["orders", "orders_audit"]) {
        const { consumer } = consume(conn.bus, { ...options, durable }, (e) => {
          seen.push(`${e.consumer}@${e.eventId}`);
          return Promise.resolve();
        });
        await consumer.start();
      }
      await publish("both");
      await expect.poll(() => [...seen].sort()).toEqual(["orders@evt-both", "orders_audit@evt-both"]);
    });

    it("stores a second publish with the same message id only once", async () => {
      const { conn, publish, options } = await setup();
      const first = await publish("dup");
      const second = await publish("dup");
      expect(first.duplicate).toBe(false);
      expect(second).toMatchObject({ duplicate: true, sequence: first.sequence });
      const seen: string[] = [];
      const { consumer } = consume(conn.bus, options, (e) => {
        seen.push(e.eventId);
        return Promise.resolve();
      });
      await consumer.start();
      await expect.poll(() => seen).toEqual(["evt-dup"]);
      await sleep(200);
      expect(seen).toEqual(["evt-dup"]);
    });

    it("redelivers after a failed handler until it succeeds", async () => {
      const { conn, publish, options } = await setup();
      const counts: number[] = [];
      const { consumer, deadLetters } = consume(conn.bus, options, (e) => {
        counts.push(e.deliveryCount);
        return e.deliveryCount < 3 ? Promise.reject(new Error("not yet")) : Promise.resolve();
      });
      await consumer.start();
      await publish("flaky");
      await expect.poll(() => counts).toEqual([1, 2, 3]);
      await sleep(300);
      expect(counts).toEqual([1, 2, 3]);
      expect(deadLetters.letters).toEqual([]);
    });

    it("dead-letters a poison event after maxDeliver, payload and headers kept, while others flow", async () => {
      const { conn, publish, options } = await setup();
      const handled: string[] = [];
      let poisonAttempts = 0;
      const { consumer, deadLetters } = consume(conn.bus, options, (e) => {
        const { orderId } = e.message as OrderPlaced;
        if (orderId === "poison") {
          poisonAttempts++;
          return Promise.reject(new Error("cannot handle poison"));
        }
        handled.push(orderId);
        return Promise.resolve();
      });
      await consumer.start();
      await publish("good-1");
      await publish("poison");
      await publish("good-2");
      await expect.poll(() => deadLetters.letters.length).toBe(1);
      expect(handled.sort()).toEqual(["good-1", "good-2"]);
      const [letter] = deadLetters.letters;
      expect(letter).toMatchObject({ deliveries: 3, eventId: "evt-poison", eventType: OrderPlacedSchema.typeName, reason: "cannot handle poison" });
      expect(letter?.payload).toEqual(placed("poison").data);
      expect(letter?.headers[EventHeaders.eventType]).toBe(OrderPlacedSchema.typeName);
      await sleep(400);
      expect(poisonAttempts).toBe(3);
    });

    it("dead-letters an undecodable or unknown-type message at once, without calling the handler", async () => {
      const { conn, subject, options } = await setup();
      let calls = 0;
      const { consumer, deadLetters } = consume(conn.bus, options, () => {
        calls++;
        return Promise.resolve();
      });
      await consumer.start();
      await conn.bus.publish({ subject, data: new Uint8Array([1, 2, 3]), headers: { [EventHeaders.eventType]: "shop.nope.v1.Unknown" }, messageId: "unknown-1" });
      await conn.bus.publish({ subject, data: new Uint8Array([0xff, 0xff, 0xff]), headers: { [EventHeaders.eventType]: OrderPlacedSchema.typeName }, messageId: "garbage-1" });
      await expect.poll(() => deadLetters.letters.length).toBe(2);
      expect(deadLetters.letters.map((l) => l.reason).sort()).toEqual([
        expect.stringMatching(/^undecodable: /),
        "undecodable: unknown event type shop.nope.v1.Unknown",
      ]);
      expect(deadLetters.letters.every((l) => l.deliveries === 1)).toBe(true);
      expect(calls).toBe(0);
    });

    it("shares one durable consumer between two instances: each event handled once", async () => {
      const { conn, publish, options } = await setup();
      const other = await harness.connect();
      closers.push(() => other.bus.close());
      const byInstance = [new Set<string>(), new Set<string>()];
      const all: string[] = [];
      const handler = (i: number) => async (e: ReceivedEvent) => {
        await sleep(5);
        byInstance[i]?.add(e.eventId);
        all.push(e.eventId);
      };
      await consume(conn.bus, options, handler(0)).consumer.start();
      await consume(other.bus, options, handler(1)).consumer.start();
      for (let i = 0; i < 40; i++) await publish(`cc-${i}`);
      await expect.poll(() => all.length, { timeout: 10_000 }).toBe(40);
      await sleep(300);
      expect(new Set(all).size).toBe(40);
      expect(all.length).toBe(40);
      expect(byInstance[0]?.size).toBeGreaterThan(0);
      expect(byInstance[1]?.size).toBeGreaterThan(0);
    });

    it("acks only after the handler resolves: a crashed instance's event goes to another", async () => {
      const { conn, publish, options } = await setup();
      const opts = { ...options, ackWaitMs: 1_000 };
      let release: () => void = () => undefined;
      const started: number[] = [];
      await consume(conn.bus, opts, (e) => {
        started.push(e.deliveryCount);
        return new Promise<void>((resolve) => (release = resolve));
      }).consumer.start();
      try {
        await publish("crash");
        await expect.poll(() => started).toEqual([1]);
        await conn.crash();
        const other = await harness.connect();
        closers.push(() => other.bus.close());
        const redelivered: number[] = [];
        await consume(other.bus, opts, (e) => {
          redelivered.push(e.deliveryCount);
          return Promise.resolve();
        }).consumer.start();
        await expect.poll(() => redelivered, { timeout: 5_000 }).toEqual([2]);
      } finally {
        release();
      }
    });

    it("hands a durable consumer only its filter's subjects, wildcards as in NATS", async () => {
      const { conn, stream, subject, publish, options } = await setup();
      await conn.bus.publish({ subject: `${stream}.cancelled.eu`, ...placed("other") });
      await publish("mine");
      const exact: string[] = [];
      const wildcard: string[] = [];
      await consume(conn.bus, options, (e) => Promise.resolve(void exact.push(e.subject))).consumer.start();
      await consume(conn.bus, { ...options, durable: "audit", filterSubject: `${stream}.>` }, (e) => Promise.resolve(void wildcard.push(e.subject))).consumer.start();
      await expect.poll(() => wildcard.length).toBe(2);
      await sleep(300);
      expect(exact).toEqual([subject]);
      expect(wildcard.sort()).toEqual([`${stream}.cancelled.eu`, subject]);
    });

    it("redelivers a nak'ed delivery after its delay, not before, and never a terminated one", async () => {
      const { conn, stream, subject, publish } = await setup();
      await publish("nak");
      await publish("term");
      const seen: { orderId: string; count: number; at: number }[] = [];
      const subscription = await conn.bus.subscribe(
        { stream, durable: "raw", filterSubject: subject, maxDeliver: -1, ackWaitMs: 5_000, maxAckPending: 100 },
        2,
        async (delivery) => {
          const { orderId } = fromBinary(OrderPlacedSchema, delivery.data);
          seen.push({ orderId, count: delivery.deliveryCount, at: Date.now() });
          if (delivery.deliveryCount > 1) return delivery.ack();
          if (orderId === "nak") delivery.nak(700);
          else delivery.term("not wanted");
        },
      );
      closers.push(() => subscription.stop());
      await expect.poll(() => seen.length, { timeout: 5_000 }).toBe(3);
      await sleep(300);
      const nak = seen.filter((s) => s.orderId === "nak");
      expect(nak.map((s) => s.count)).toEqual([1, 2]);
      expect(nak[1]!.at - nak[0]!.at).toBeGreaterThanOrEqual(650);
      expect(seen.filter((s) => s.orderId === "term").map((s) => s.count)).toEqual([1]);
    });

    it("hands every event a crashed instance held to another instance after the ack wait, each once", async () => {
      const { conn, subject, publish, options } = await setup();
      const opts = { ...options, ackWaitMs: 1_000, concurrency: 4 };
      const held: string[] = [];
      const releases: (() => void)[] = [];
      await consume(conn.bus, opts, (e) => {
        held.push(e.eventId);
        return new Promise<void>((resolve) => releases.push(resolve));
      }).consumer.start();
      try {
        for (const id of ["h1", "h2", "h3"]) await publish(id);
        await expect.poll(() => held.length).toBe(3);
        await conn.crash();
        const other = await harness.connect();
        closers.push(() => other.bus.close());
        const claimed: string[] = [];
        await consume(other.bus, opts, (e) => Promise.resolve(void claimed.push(`${e.eventId}#${e.deliveryCount}`))).consumer.start();
        await other.bus.publish({ subject, ...placed("after") });
        await expect.poll(() => claimed.length, { timeout: 6_000 }).toBe(4);
        await sleep(1_200);
        expect(claimed.sort()).toEqual(["evt-after#1", "evt-h1#2", "evt-h2#2", "evt-h3#2"]);
      } finally {
        for (const release of releases) release();
      }
    });

    it("keeps a slow handler's event from being redelivered while it reports working", async () => {
      const { conn, publish, options } = await setup();
      const counts: number[] = [];
      let done = false;
      await consume(conn.bus, { ...options, ackWaitMs: 1_000, workingIntervalMs: 250 }, async (e) => {
        counts.push(e.deliveryCount);
        await sleep(2_500);
        done = true;
      }).consumer.start();
      await publish("slow");
      await expect.poll(() => done, { timeout: 5_000 }).toBe(true);
      await sleep(1_200);
      expect(counts).toEqual([1]);
    });
  });
}
