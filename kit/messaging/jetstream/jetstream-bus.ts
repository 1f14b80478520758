import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  StorageType,
} from "@nats-io/jetstream";
import { headers as natsHeaders, type NatsConnection, nanos } from "@nats-io/transport-node";
import type { ConsumerSpec, Delivery, EventBus, OutgoingMessage, PublishAck, StreamSpec, Subscription } from "../bus/event-bus.js";
import { Liveness } from "../readiness/liveness.js";
import { DEFAULT_NOT_READY_AFTER_MS, validateNotReadyAfter } from "../readiness/readiness.js";

/** JetStream API error codes we act on. */
const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;

/** How long a JetStream API call or publish waits for the server's answer, ms. */
export const DEFAULT_JETSTREAM_TIMEOUT_MS = 5_000;

export interface JetStreamBusOptions {
  /** Timeout of JetStream API calls and publish acks, ms. Default `DEFAULT_JETSTREAM_TIMEOUT_MS` (5 000). */
  timeoutMs?: number | undefined;
  /** Pause before pulling again after a subscription's iterator failed or ended, ms. Default 1 000. */
  resubscribeDelayMs?: number | undefined;
  /** Errors a subscription survives (consumer deleted, iterator failed). Default: ignored. */
  onError?: ((err: unknown) => void) | undefined;
  /**
   * How long one pull request waits at the server, ms; heartbeats come every half of it. A pull
   * parked at a cluster node that dies is noticed after two missed heartbeats, so this bounds how
   * long consumers stand still after a node loss. Default 10 000 (nats.js: 30 000, which stalled
   * the saga for ~35 s in the node-loss scenario, past the 30 s saga deadline).
   */
  pullExpiresMs?: number | undefined;
  /**
   * How long a subscription may hear nothing from the server (no message, no pull heartbeat,
   * which comes every pullExpiresMs / 2 while a pull waits) before its readiness says so, ms.
   * Default: three heartbeat intervals, at least `DEFAULT_NOT_READY_AFTER_MS` (15 000).
   */
  notReadyAfterMs?: number | undefined;
}

/**
 * The event bus on NATS JetStream (nats.js v3): publishes with `Nats-Msg-Id`, consumes durable
 * pull consumers with explicit acks. The connection stays the caller's.
 */
export async function createJetStreamBus(nc: NatsConnection, options: JetStreamBusOptions = {}): Promise<EventBus> {
  const timeout = options.timeoutMs ?? DEFAULT_JETSTREAM_TIMEOUT_MS;
  const resubscribeDelayMs = options.resubscribeDelayMs ?? 1_000;
  const onError = options.onError ?? (() => undefined);
  const pullExpiresMs = options.pullExpiresMs ?? 10_000;
  const notReadyAfterMs = options.notReadyAfterMs ?? Math.max(DEFAULT_NOT_READY_AFTER_MS, Math.ceil(1.5 * pullExpiresMs));
  validateNotReadyAfter("JetStream bus", notReadyAfterMs, pullExpiresMs / 2, "a pull's heartbeat interval, pullExpiresMs / 2");
  const js: JetStreamClient = jetstream(nc, { timeout });
  const jsm: JetStreamManager = await jetstreamManager(nc, { timeout });
  const subscriptions = new Set<Subscription>();

  return {
    async ensureStream(spec: StreamSpec) {
      const config = {
        name: spec.name,
        subjects: spec.subjects,
        storage: StorageType.File,
        num_replicas: spec.replicas ?? 1,
        duplicate_window: nanos(spec.duplicateWindowMs ?? 120_000),
        max_age: nanos(spec.maxAgeMs ?? 0),
      };
      try {
        const info = await jsm.streams.info(spec.name);
        const current = info.config;
        const same =
          sameSet(current.subjects ?? [], config.subjects) &&
          current.num_replicas === config.num_replicas &&
          current.duplicate_window === config.duplicate_window &&
          current.max_age === config.max_age;
        if (!same) await jsm.streams.update(spec.name, { ...config });
      } catch (err) {
        if (apiCode(err) !== STREAM_NOT_FOUND) throw err;
        await jsm.streams.add(config);
      }
    },

    async publish(message: OutgoingMessage): Promise<PublishAck> {
      const h = natsHeaders();
      for (const [key, value] of Object.entries(message.headers)) h.set(key, value);
      const ack = await js.publish(message.subject, message.data, { msgID: message.messageId, headers: h });
      return { stream: ack.stream, sequence: ack.seq, duplicate: ack.duplicate };
    },

    async subscribe(spec: ConsumerSpec, concurrency: number, handler: (delivery: Delivery) => Promise<void>) {
      await ensureConsumer(jsm, spec);
      const liveness = new Liveness(`consumer ${spec.durable} on ${spec.stream}`, notReadyAfterMs);
      const running = new Set<Promise<void>>();
      let freeSlot: (() => void) | undefined;
      let messages: ConsumerMessages | undefined;
      let stopped = false;
      let wakeRetry: (() => void) | undefined;

      const pull = async () => {
        const consumer = await js.consumers.get(spec.stream, spec.durable);
        liveness.heard();
        // consume() yields the next message only when the loop body returns: the body only waits
        // for a free slot, and the handlers run in parallel up to `concurrency`.
        const current = await consumer.consume({ max_messages: concurrency, expires: pullExpiresMs });
        messages = current;
        // Stopped while consume() was being set up: close without waiting, since close() resolves
        // only once the iterator below has been read to its end.
        if (stopped) void current.close();
        // Left alone, the iterator waits (heartbeats apart) for a deleted consumer to come back:
        // end it, so the loop below recreates the consumer and pulls again at once.
        void (async () => {
          for await (const status of current.status()) {
            // A waiting pull is answered by a heartbeat every pullExpiresMs / 2 and ends with a
            // discard; a new pull follows a successful consumer info or a message.
            if (status.type === "heartbeat" || status.type === "discard" || status.type === "next") liveness.heard();
            if (status.type === "heartbeats_missed") liveness.problem(new Error(`${status.count} heartbeats missed`));
            if (status.type === "consumer_deleted" || status.type === "consumer_not_found") {
              onError(new Error(`consumer ${spec.durable} on ${spec.stream}: ${status.type}; recreating it`));
              await current.close();
            }
          }
        })().catch(onError);
        for await (const m of current) {
          liveness.heard();
          const run = handler(toDelivery(m, spec))
            .catch(() => undefined)
            .finally(() => {
              running.delete(run);
              freeSlot?.();
            });
          running.add(run);
          while (running.size >= concurrency) await new Promise<void>((resolve) => (freeSlot = resolve));
        }
      };
      // The iterator ends or fails when the consumer is deleted or the connection gives up:
      // recreate the consumer and pull again until stopped.
      const loop = (async () => {
        while (!stopped) {
          try {
            await pull();
          } catch (err) {
            liveness.problem(err);
            onError(err);
          }
          if (stopped) break;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, resubscribeDelayMs);
            wakeRetry = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          await ensureConsumer(jsm, spec).catch((err: unknown) => {
            liveness.problem(err);
            onError(err);
          });
        }
      })();
      const subscription: Subscription = {
        stop: async () => {
          stopped = true;
          subscriptions.delete(subscription);
          wakeRetry?.();
          await messages?.close();
          await loop;
          await Promise.all(running);
        },
        readiness: () => liveness.readiness(),
      };
      subscriptions.add(subscription);
      return subscription;
    },

    async close() {
      await Promise.all([...subscriptions].map((s) => s.stop()));
    },
  };
}

async function ensureConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<void> {
  const wanted: Partial<ConsumerConfig> = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: spec.filterSubject,
    max_deliver: spec.maxDeliver,
    ack_wait: nanos(spec.ackWaitMs),
    max_ack_pending: spec.maxAckPending,
  };
  try {
    const info = await jsm.consumers.info(spec.stream, spec.durable);
    const c = info.config;
    if (
      c.filter_subject !== wanted.filter_subject ||
      c.max_deliver !== wanted.max_deliver ||
      c.ack_wait !== wanted.ack_wait ||
      c.max_ack_pending !== wanted.max_ack_pending
    ) {
      await jsm.consumers.update(spec.stream, spec.durable, {
        filter_subject: spec.filterSubject,
        max_deliver: spec.maxDeliver,
        ack_wait: nanos(spec.ackWaitMs),
        max_ack_pending: spec.maxAckPending,
      });
    }
  } catch (err) {
    if (apiCode(err) !== CONSUMER_NOT_FOUND) throw err;
    await jsm.consumers.add(spec.stream, wanted);
  }
}

function toDelivery(m: JsMsg, spec: ConsumerSpec): Delivery {
  const headers: Record<string, string> = {};
  if (m.headers) for (const key of m.headers.keys()) headers[key] = m.headers.get(key);
  return {
    subject: m.subject,
    data: new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength),
    headers,
    deliveryCount: m.info.deliveryCount,
    stream: m.info.stream,
    consumer: spec.durable,
    streamSequence: m.info.streamSequence,
    // A plain ack, not ackAck(): see Delivery.ack.
    ack: async () => m.ack(),
    nak: (delayMs) => m.nak(delayMs),
    working: () => m.working(),
    term: (reason) => m.term(reason),
  };
}

function apiCode(err: unknown): number | undefined {
  // JetStreamApiError exposes the API error code; checked by shape, not instanceof.
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
