// One subscriber of a consumer group: a loop that fetches what is due (FETCH script), runs the
// handler for each delivery, and between fetches waits on a second connection with XREAD BLOCK,
// which returns as soon as a new entry is added. A nak or a stop wakes the wait early.
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { ConsumerSpec, Delivery, Subscription } from "../bus/event-bus.js";
import { subjectMatches } from "../bus/subject.js";
import { Liveness } from "../readiness/liveness.js";
import type { StreamKeys } from "./redis-streams-keys.js";
import type { FetchReply, StreamScripts } from "./redis-streams-scripts.js";

export interface SubscriptionContext {
  client: Redis;
  scripts: StreamScripts;
  keys: StreamKeys;
  /** Creates the consumer group (and the stream, and its registry entry) when missing. */
  ensureGroup(): Promise<void>;
  maxBlockMs: number;
  retryDelayMs: number;
  /** Silence from Redis after which the subscription reports itself not ready, ms. */
  notReadyAfterMs: number;
  onError: (err: unknown) => void;
}

/** A consumer name no other subscriber of the group uses: host, process and a random suffix. */
function consumerName(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

export async function startSubscription(
  context: SubscriptionContext,
  spec: ConsumerSpec,
  concurrency: number,
  handler: (delivery: Delivery) => Promise<void>,
): Promise<Subscription> {
  const { client, scripts, keys, onError } = context;
  const group = spec.durable;
  const naks = keys.naks(group);
  const me = consumerName();
  // The idle scan costs a walk over the group's pending entries: a few times per ack wait is enough.
  const idleScanEveryMs = Math.max(50, Math.floor(spec.ackWaitMs / 4));
  await context.ensureGroup();
  const liveness = new Liveness(`consumer group ${group} on ${keys.name}`, context.notReadyAfterMs);

  // Blocking reads hold their connection: a duplicate, so the caller's client stays free.
  const blocker = client.duplicate({ commandTimeout: context.maxBlockMs + 5_000, maxRetriesPerRequest: 1 });
  blocker.on("error", () => undefined);
  let blockerId: number | undefined;
  blocker.on("ready", () => {
    blocker.client("ID").then(
      (id) => (blockerId = id),
      () => undefined,
    );
  });

  const running = new Set<Promise<void>>();
  const nakTimers = new Set<NodeJS.Timeout>();
  let stopped = false;
  let blocking = false;
  let wakeSleep: (() => void) | undefined;
  let slotFreed: (() => void) | undefined;
  let lastIdleScan = 0;
  // A wake that came while the loop was fetching: do not wait after this fetch.
  let wakeMissed = false;

  const wake = () => {
    if (wakeSleep) wakeSleep();
    else if (blocking && blockerId !== undefined) client.client("UNBLOCK", blockerId).catch(() => undefined);
    else wakeMissed = true;
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeSleep = undefined;
        resolve();
      }
      wakeSleep = done;
    });
  const waitForNew = async (lastId: string, ms: number) => {
    blocking = true;
    try {
      await blocker.xread("BLOCK", Math.max(1, ms), "STREAMS", keys.stream, lastId);
      liveness.heard();
    } catch {
      // Disconnected or timed out: the next fetch reports a real Redis problem.
      if (!stopped) await sleep(Math.min(ms, context.retryDelayMs));
    } finally {
      blocking = false;
    }
  };

  const toDelivery = ([rawId, deliveryCount, rawFields]: FetchReply[0][number]): Delivery | undefined => {
    const id = rawId.toString();
    const fields = new Map<string, Buffer>();
    for (let i = 0; i + 1 < rawFields.length; i += 2) fields.set(rawFields[i]!.toString(), rawFields[i + 1]!);
    const subject = fields.get("subject")?.toString() ?? "";
    if (!subjectMatches(spec.filterSubject, subject)) {
      // Another subject of the stream: not for this consumer, like a JetStream filter.
      scripts.settle([keys.stream, naks], [group, id]).catch(onError);
      return undefined;
    }
    const data = fields.get("data") ?? Buffer.alloc(0);
    let headers: Record<string, string> = {};
    try {
      headers = JSON.parse(fields.get("headers")?.toString() ?? "{}") as Record<string, string>;
    } catch {
      // Written by something other than this bus: without a type header it is dead-lettered as undecodable.
    }
    let settled = false;
    const once = () => {
      const first = !settled;
      settled = true;
      return first;
    };
    return {
      subject,
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      headers,
      deliveryCount,
      stream: keys.name,
      consumer: group,
      streamSequence: Number(fields.get("seq")?.toString() ?? 0),
      ack: async () => {
        if (once()) await scripts.settle([keys.stream, naks], [group, id]);
      },
      nak: (delayMs = 0) => {
        if (!once()) return;
        scripts.nak([keys.stream, naks], [group, me, id, Math.max(0, delayMs)]).catch(onError);
        // This process's wait ends when the delay does; other subscribers find it on their next fetch.
        const timer = setTimeout(() => {
          nakTimers.delete(timer);
          wake();
        }, delayMs);
        timer.unref();
        nakTimers.add(timer);
      },
      working: () => {
        if (!settled) scripts.working([keys.stream], [group, me, id]).catch(onError);
      },
      term: () => {
        if (once()) scripts.settle([keys.stream, naks], [group, id]).catch(onError);
      },
    };
  };

  const dispatch = (delivery: Delivery) => {
    const run = handler(delivery)
      .catch(() => undefined)
      .finally(() => {
        running.delete(run);
        slotFreed?.();
        // A sleep (not a blocking read) may wait for pending entries to drop below maxAckPending.
        wakeSleep?.();
      });
    running.add(run);
  };

  const loop = async () => {
    while (!stopped) {
      if (running.size >= concurrency) {
        // Nothing is asked of Redis while every slot is busy: silence then is no failure.
        liveness.suspend();
        while (!stopped && running.size >= concurrency) await new Promise<void>((resolve) => (slotFreed = resolve));
        liveness.resume();
      }
      if (stopped) break;
      const free = concurrency - running.size;
      const scanIdle = Date.now() - lastIdleScan >= idleScanEveryMs;
      let reply: FetchReply;
      try {
        reply = await scripts.fetch([keys.stream, naks], [group, me, free, scanIdle ? spec.ackWaitMs : 0, spec.maxAckPending, spec.maxDeliver]);
        liveness.heard();
      } catch (err) {
        if (stopped) break;
        liveness.problem(err);
        onError(err);
        await sleep(context.retryDelayMs);
        // The group is gone when the stream was deleted or Redis restarted empty.
        await context.ensureGroup().catch(onError);
        continue;
      }
      if (scanIdle) lastIdleScan = Date.now();
      const [entries, lastId, nextDueMs, serverNowMs] = reply;
      for (const entry of entries) {
        const delivery = toDelivery(entry);
        if (delivery) dispatch(delivery);
      }
      if (entries.length >= free) continue;
      const untilIdleScan = idleScanEveryMs - (Date.now() - lastIdleScan);
      const waitMs = Math.min(context.maxBlockMs, untilIdleScan, nextDueMs === null ? Infinity : nextDueMs - serverNowMs);
      if (waitMs <= 0 || wakeMissed) {
        wakeMissed = false;
        continue;
      }
      if (lastId !== null) await waitForNew(lastId.toString(), waitMs);
      else await sleep(waitMs);
    }
  };
  const looping = loop();

  let stopping: Promise<void> | undefined;
  return {
    stop: () =>
      (stopping ??= (async () => {
        stopped = true;
        slotFreed?.();
        wakeSleep?.();
        blocker.disconnect();
        for (const timer of nakTimers) clearTimeout(timer);
        await looping;
        await Promise.all(running);
      })()),
    readiness: () => liveness.readiness(),
  };
}
