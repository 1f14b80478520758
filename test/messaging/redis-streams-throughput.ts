// Publish and consume rates of the Redis Streams bus on the shared Redis, next to JetStream's.
// npx tsx --conditions=source test/messaging/redis-streams-throughput.ts
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Redis } from "ioredis";
import { createJetStreamBus } from "@protomesh/messaging/jetstream";
import { createRedisStreamsBus } from "@protomesh/messaging/redis-streams";
import { type EventBus } from "@protomesh/messaging";
import { uniqueName } from "../helpers/index.js";

const N = 10_000;
async function measure(name: string, bus: EventBus, stream: string) {
  await bus.ensureStream({ name: stream, subjects: [`${stream}.>`] });
  const msg = (i: number) => ({ subject: `${stream}.e`, data: new Uint8Array(110), headers: { "Protomesh-Event-Type": "x" }, messageId: `${stream}-${i}` });
  let t = performance.now();
  for (let i = 0; i < 2_000; i++) await bus.publish(msg(i));
  const serial = 2_000 / ((performance.now() - t) / 1000);
  t = performance.now();
  let next = 2_000;
  await Promise.all(Array.from({ length: 256 }, async () => { while (next < N + 2_000) await bus.publish(msg(next++)); }));
  const parallel = N / ((performance.now() - t) / 1000);
  t = performance.now();
  let got = 0;
  await new Promise<void>((resolve) => {
    void bus.subscribe({ stream, durable: "bench", filterSubject: `${stream}.>`, maxDeliver: -1, ackWaitMs: 30_000, maxAckPending: 1_000 }, 64, async (d) => {
      await d.ack();
      if (++got === N + 2_000) resolve();
    });
  });
  const consumed = (N + 2_000) / ((performance.now() - t) / 1000);
  console.log(`${name}: publish awaited one at a time ${serial.toFixed(0)} msg/s, 256 in flight ${parallel.toFixed(0)} msg/s; consume+ack (64 at once) ${consumed.toFixed(0)} msg/s`);
  await bus.close();
}

const redis = new Redis("redis://127.0.0.1:6379");
const prefix = `pmt:bench:${Date.now()}:`;
await measure("Redis Streams", createRedisStreamsBus(redis, { keyPrefix: prefix }), "BENCH");
const keys = await redis.keys(`${prefix}*`);
if (keys.length > 0) await redis.unlink(...keys);
redis.disconnect();

const nc = await connect({ servers: "nats://127.0.0.1:4222" });
const stream = uniqueName("PMT_BENCH");
await measure("JetStream", await createJetStreamBus(nc), stream);
await (await jetstreamManager(nc)).streams.delete(stream);
await nc.close();
