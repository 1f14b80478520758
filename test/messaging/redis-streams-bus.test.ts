// What the Redis Streams bus adds to the bus contract: its keys, retention, registry and errors.
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import type { OutgoingMessage } from "@protomesh/messaging";
import { redisStreamsHarness, SHARED_REDIS_URL } from "./redis-streams-harness.js";

describe("Redis Streams bus", () => {
  const harness = redisStreamsHarness();
  const redis = new Redis(SHARED_REDIS_URL);
  afterAll(async () => {
    await harness.cleanup();
    redis.disconnect();
  });
  const message = (subject: string, messageId: string): OutgoingMessage => ({ subject, data: new Uint8Array([1, 2]), headers: { a: "b" }, messageId });
  const idle = () => Promise.resolve();

  it("keeps one stream per declared stream, under the key prefix, with the stream name as hash tag", async () => {
    const { bus } = harness.open();
    const stream = harness.streamName();
    await bus.ensureStream({ name: stream, subjects: [`${stream}.>`] });
    const ack = await bus.publish(message(`${stream}.a.b`, "m1"));
    expect(ack).toMatchObject({ stream, duplicate: false });
    expect(Number.isSafeInteger(ack.sequence)).toBe(true);
    expect(await bus.publish(message(`${stream}.a.b`, "m2"))).toMatchObject({ sequence: ack.sequence + 1 });
    const entries = await redis.xrange(`${harness.keyPrefix}stream:{${stream}}`, "-", "+");
    expect(entries).toHaveLength(2);
    expect(entries[0]?.[1]).toEqual(["seq", String(ack.sequence), "subject", `${stream}.a.b`, "headers", '{"a":"b"}', "data", "\u0001\u0002"]);
    expect(await redis.pttl(`${harness.keyPrefix}stream:{${stream}}:msgid:m1`)).toBeGreaterThan(100_000);
  });

  it("finds streams another process declared, and rejects a subject no stream captures", async () => {
    const declarer = harness.open().bus;
    const publisher = harness.open().bus;
    const stream = harness.streamName();
    await expect(publisher.publish(message(`${stream}.x`, "early"))).rejects.toThrow(`no stream captures subject ${stream}.x; declare one with ensureStream`);
    await declarer.ensureStream({ name: stream, subjects: [`${stream}.*`] });
    await expect(publisher.publish(message(`${stream}.x`, "m1"))).resolves.toMatchObject({ stream, duplicate: false });
    await expect(publisher.publish(message(`${stream}.x.y`, "m2"))).rejects.toThrow(/no stream captures subject/);
    await expect(publisher.subscribe({ stream: "NOPE", durable: "d", filterSubject: "x", maxDeliver: -1, ackWaitMs: 1_000, maxAckPending: 10 }, 1, idle)).rejects.toThrow(
      "stream NOPE not found; declare it with ensureStream",
    );
  });

  it("refuses names that cannot be keys, streams without subjects, and options that cannot work", async () => {
    const { bus } = harness.open();
    await expect(bus.ensureStream({ name: "a.b", subjects: ["a.>"] })).rejects.toThrow(/stream name "a.b" must be letters, digits/);
    await expect(bus.ensureStream({ name: "EMPTY", subjects: [] })).rejects.toThrow("stream EMPTY must capture at least one subject");
    expect(() => harness.open({ maxBlockMs: 0 })).toThrow("redis streams bus maxBlockMs must be a positive integer, got 0");
    expect(() => harness.open({ maxBlockMs: 1_000, notReadyAfterMs: 1_000 })).toThrow(
      "redis streams bus notReadyAfterMs must be an integer above 1000 (the longest blocking read, maxBlockMs), got 1000",
    );
  });

  it("trims entries older than the stream's max age when it publishes", async () => {
    const { bus } = harness.open();
    const stream = harness.streamName();
    await bus.ensureStream({ name: stream, subjects: [`${stream}.>`], maxAgeMs: 300 });
    for (let i = 0; i < 5; i++) await bus.publish(message(`${stream}.old`, `old-${i}`));
    await sleep(400);
    await bus.publish(message(`${stream}.new`, "new"));
    const entries = await redis.xrange(`${harness.keyPrefix}stream:{${stream}}`, "-", "+");
    expect(entries.map(([, fields]) => fields[3])).toEqual([`${stream}.new`]);
  });

  it("removes subscribers of stopped processes from the group once they hold nothing", async () => {
    const stream = harness.streamName();
    const spec = { stream, durable: "orders", filterSubject: `${stream}.>`, maxDeliver: -1, ackWaitMs: 1_000, maxAckPending: 10 };
    const bus = harness.open({ pruneConsumersAfterMs: 200 }).bus;
    await bus.ensureStream({ name: stream, subjects: [`${stream}.>`] });
    const consumers = async () =>
      ((await redis.xinfo("CONSUMERS", `${harness.keyPrefix}stream:{${stream}}`, "orders")) as string[][]).map((info) => info[1]);
    const acked: string[] = [];
    const readOne = async (messageId: string) => {
      const subscription = await bus.subscribe(spec, 1, async (d) => {
        await d.ack();
        acked.push(messageId);
      });
      await bus.publish(message(`${stream}.e`, messageId));
      await expect.poll(() => acked).toContain(messageId);
      await subscription.stop();
      return consumers();
    };
    const [stopped] = await readOne("first");
    expect(stopped).toMatch(new RegExp(`-${process.pid}-`));
    await sleep(300);
    const after = await readOne("second");
    expect(after).toHaveLength(1);
    expect(after).not.toContain(stopped);
  });
});
