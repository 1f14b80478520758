// The relay benchmark's load generator, a process of its own. Modes (the first argument, JSON):
//   live     `writers` loops, each committing transactions back to back that write one
//            outbox event (the kit's writeEvent, as a service does); records the wall-clock
//            time each commit returned, for commits that returned in the window (it sends
//            "measuring" when the window opens);
//   prefill  commits `count` events in large multi-row inserts, a backlog for the relay to drain.
// Each order is its own aggregate, so the relay may publish every pending row at once.
import { randomBytes } from "node:crypto";
import { toBinary } from "@bufbuild/protobuf";
import { OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { openDatabase } from "@protomesh/data";
import { outbox, writeEvent } from "@protomesh/messaging";
import { serveParent } from "./children.js";
import { benchSubject, orderPlaced, wallClockMs } from "./outbox-event.js";
import { monotonicNow } from "./stats.js";

export type WriterSpec =
  | { mode: "live"; databaseUrl: string; writers: number; warmupS: number; seconds: number }
  | { mode: "prefill"; databaseUrl: string; count: number };

export interface WriterReport {
  /** Transactions committed since the process started, warm-up included. */
  committed: number;
  /** Wall-clock window (ms) and its length (s); commits in it are listed below. */
  windowStartMs: number;
  windowEndMs: number;
  seconds: number;
  cpuUs: number;
  ids: string[];
  committedAtMs: number[];
  /** How long each of those transactions took, begin to commit returned, ms. */
  transactionMs: number[];
}

const spec = JSON.parse(process.argv[2] ?? "{}") as WriterSpec;
const database = await openDatabase({ url: spec.databaseUrl, poolSize: spec.mode === "live" ? spec.writers : 4, applicationName: "bench-writer" });
const runTag = randomBytes(4).toString("hex");
let sequence = 0;
const nextId = () => `${runTag}-${sequence++}`;

async function live(s: Extract<WriterSpec, { mode: "live" }>): Promise<WriterReport> {
  let recording = false;
  let running = true;
  let committed = 0;
  const ids: string[] = [];
  const committedAtMs: number[] = [];
  const transactionMs: number[] = [];
  const loops = Array.from({ length: s.writers }, async () => {
    while (running) {
      const eventId = nextId();
      const began = monotonicNow();
      await database.db.transaction(async (tx) => {
        await writeEvent(tx, { aggregateType: "order", aggregateId: eventId, schema: OrderPlacedSchema, event: orderPlaced(eventId, eventId), eventId, subject: benchSubject });
      });
      committed++;
      if (recording) {
        ids.push(eventId);
        committedAtMs.push(wallClockMs());
        transactionMs.push(monotonicNow() - began);
      }
    }
  });
  await new Promise((resolve) => setTimeout(resolve, s.warmupS * 1000));
  const cpu = process.cpuUsage();
  const started = monotonicNow();
  const windowStartMs = wallClockMs();
  recording = true;
  process.send?.({ type: "measuring" });
  await new Promise((resolve) => setTimeout(resolve, s.seconds * 1000));
  recording = false;
  const windowEndMs = wallClockMs();
  const used = process.cpuUsage(cpu);
  const seconds = (monotonicNow() - started) / 1000;
  running = false;
  await Promise.all(loops);
  return { committed, windowStartMs, windowEndMs, seconds, cpuUs: used.user + used.system, ids, committedAtMs, transactionMs };
}

async function prefill(count: number): Promise<WriterReport> {
  const started = monotonicNow();
  const cpu = process.cpuUsage();
  const perStatement = 1_000;
  for (let done = 0; done < count; done += perStatement) {
    const rows = Array.from({ length: Math.min(perStatement, count - done) }, () => {
      const eventId = nextId();
      return {
        eventId,
        aggregateType: "order",
        aggregateId: eventId,
        eventType: OrderPlacedSchema.typeName,
        subject: benchSubject,
        payload: toBinary(OrderPlacedSchema, orderPlaced(eventId, eventId)),
      };
    });
    await database.db.insert(outbox).values(rows);
  }
  const used = process.cpuUsage(cpu);
  const now = wallClockMs();
  return { committed: count, windowStartMs: now, windowEndMs: now, seconds: (monotonicNow() - started) / 1000, cpuUs: used.user + used.system, ids: [], committedAtMs: [], transactionMs: [] };
}

serveParent(async () => {
  const report = spec.mode === "live" ? await live(spec) : await prefill(spec.count);
  await database.close();
  return { ...report };
});
process.send?.({ type: "ready" });
