// The relay benchmark's publishing process: one NATS connection and one database, and either
//   {type: "raw", concurrency, warmupS, seconds}  JetStream publishes of the outbox's event,
//       `concurrency` in flight, straight from this process (the ceiling), or
//   {type: "relay-start", batchSize?}              the kit's outbox relay on the database,
//       recording when the broker acknowledged each event (the relay's onPublished hook).
// Also answers {type: "sample"} (CPU, RSS, GC, events published), {type: "acks"} and
// {type: "discard-pending"} (deletes unpublished outbox rows).
//   relay-node.ts <natsUrl> <databaseUrl>
import { connect } from "@nats-io/transport-node";
import { toBinary } from "@bufbuild/protobuf";
import { OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { openDatabase } from "@protomesh/data";
import { isNull } from "drizzle-orm";
import { createJetStreamBus } from "@protomesh/messaging/jetstream";
import { createOutboxRelay, outbox, toOutgoingMessage, type OutboxRelay } from "@protomesh/messaging";
import { serveParent } from "../harness/children.js";
import { gcTotals } from "../harness/gc-time.js";
import { benchStream, benchSubject, orderPlaced, wallClockMs } from "../harness/outbox-event.js";
import { monotonicNow } from "../harness/stats.js";

const [natsUrl = "", databaseUrl = ""] = process.argv.slice(2);
const nats = await connect({ servers: natsUrl, name: "bench-relay" });
const bus = await createJetStreamBus(nats);
await bus.ensureStream(benchStream);
const database = await openDatabase({ url: databaseUrl, applicationName: "bench-relay" });

let published = 0;
let relay: OutboxRelay | undefined;
const ackedIds: string[] = [];
const ackedAt: number[] = [];

export interface RawReport {
  calls: number;
  seconds: number;
  cpuUs: number;
  latenciesMs: number[];
}

/** `concurrency` loops publishing back to back; latencies of the publishes sent in the window. */
async function raw(concurrency: number, warmupS: number, seconds: number): Promise<RawReport> {
  let recording = false;
  let running = true;
  const latencies: number[] = [];
  let sequence = 0;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      const n = sequence++;
      const eventId = `raw-${process.pid}-${n}`;
      const event = orderPlaced(eventId, `order-${n}`);
      const message = toOutgoingMessage({
        eventId,
        aggregateType: "order",
        aggregateId: event.orderId,
        eventType: OrderPlacedSchema.typeName,
        subject: benchSubject,
        payload: toBinary(OrderPlacedSchema, event),
        headers: {},
        createdAt: new Date(),
      });
      const started = monotonicNow();
      const inWindow = recording;
      await bus.publish(message);
      published++;
      if (inWindow && recording) latencies.push(monotonicNow() - started);
    }
  });
  await new Promise((resolve) => setTimeout(resolve, warmupS * 1000));
  const cpu = process.cpuUsage();
  const startedAt = monotonicNow();
  recording = true;
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  recording = false;
  const used = process.cpuUsage(cpu);
  const elapsed = (monotonicNow() - startedAt) / 1000;
  running = false;
  await Promise.all(loops);
  return { calls: latencies.length, seconds: elapsed, cpuUs: used.user + used.system, latenciesMs: latencies };
}

serveParent(async (message) => {
  switch (message["type"]) {
    case "raw":
      return { ...(await raw(Number(message["concurrency"]), Number(message["warmupS"]), Number(message["seconds"]))) };
    case "relay-start":
      relay = createOutboxRelay(
        { database, publisher: bus },
        {
          ...(message["batchSize"] === undefined ? {} : { batchSize: Number(message["batchSize"]) }),
          onPublished: (envelope) => {
            published++;
            ackedIds.push(envelope.eventId);
            ackedAt.push(wallClockMs());
          },
          onError: (err) => console.error("relay error:", err),
        },
      );
      await relay.start();
      return {};
    case "relay-stop":
      await relay?.stop();
      relay = undefined;
      return {};
    case "discard-pending":
      // A drain that ended with events left must not hand them to the next variant.
      await database.db.delete(outbox).where(isNull(outbox.publishedAt));
      return {};
    case "acks": {
      // Hands over what was recorded and forgets it, so each variant gets its own.
      const reply = { ids: ackedIds.splice(0), at: ackedAt.splice(0) };
      return reply;
    }
    default: {
      const usage = process.cpuUsage();
      return { cpuUs: usage.user + usage.system, rss: process.memoryUsage.rss(), calls: published, ...gcTotals() };
    }
  }
});
process.send?.({ type: "ready" });
