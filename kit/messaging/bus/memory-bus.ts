import type { ConsumerSpec, Delivery, EventBus, OutgoingMessage, PublishAck, StreamSpec, Subscription } from "./event-bus.js";
import { subjectMatches } from "./subject.js";
import { READY } from "../readiness/readiness.js";

interface StoredMessage {
  sequence: number;
  subject: string;
  data: Uint8Array;
  headers: Record<string, string>;
}

interface Stream {
  spec: StreamSpec;
  messages: StoredMessage[];
  recentIds: Map<string, { sequence: number; at: number }>;
  consumers: Map<string, Consumer>;
}

interface Pending {
  deliveries: number;
  timer: NodeJS.Timeout | undefined;
  /** Delivery token; a settle with an older token is ignored (a redelivery superseded it). */
  token: number;
}

interface Consumer {
  spec: ConsumerSpec;
  /** Next stream sequence never delivered yet. */
  cursor: number;
  /** Messages delivered and not yet acked or terminated. */
  pending: Map<number, Pending>;
  /** Messages due for redelivery. */
  redeliver: number[];
  subscribers: Set<() => void>;
}

/** An in-memory broker; each `connect()` is a client, like one process's NATS connection. */
export interface MemoryBroker {
  connect(): MemoryBus;
}

/** A client of a `MemoryBroker`. */
export interface MemoryBus extends EventBus {
  /**
   * Drops the connection like a crashed process: subscriptions stop at once, running handlers'
   * acks are lost, and their messages are redelivered after the ack wait.
   */
  crash(): void;
}

/** One broker with one client: enough for most tests. */
export function createMemoryBus(): MemoryBus {
  return createMemoryBroker().connect();
}

/**
 * An in-memory fake of a JetStream broker for tests: streams capture subjects, `messageId`
 * dedupes within the window, durable consumers hand each message to one subscriber, redeliver
 * after `nak` or the ack wait, and stop redelivering after MaxDeliver (unless it is <= 0).
 */
export function createMemoryBroker(): MemoryBroker {
  const streams = new Map<string, Stream>();
  let nextToken = 1;

  const streamFor = (subject: string) => [...streams.values()].find((s) => s.spec.subjects.some((p) => subjectMatches(p, subject)));

  const poke = (stream: Stream) => {
    for (const consumer of stream.consumers.values()) for (const wake of consumer.subscribers) wake();
  };

  const take = (stream: Stream, consumer: Consumer): { message: StoredMessage; pending: Pending } | undefined => {
    for (;;) {
      const seq = consumer.redeliver.shift();
      if (seq === undefined) break;
      const pending = consumer.pending.get(seq);
      const message = stream.messages[seq - 1];
      if (pending && message) return { message, pending };
    }
    while (consumer.pending.size < consumer.spec.maxAckPending && consumer.cursor <= stream.messages.length) {
      const message = stream.messages[consumer.cursor - 1];
      consumer.cursor++;
      if (message && subjectMatches(consumer.spec.filterSubject, message.subject)) {
        const pending: Pending = { deliveries: 0, timer: undefined, token: 0 };
        consumer.pending.set(message.sequence, pending);
        return { message, pending };
      }
    }
    return undefined;
  };

  const deliver = (stream: Stream, consumer: Consumer, message: StoredMessage, pending: Pending, alive: () => boolean): Delivery => {
    pending.deliveries++;
    const token = nextToken++;
    pending.token = token;
    // Broker side: is this still the live delivery of the message?
    const current = () => consumer.pending.get(message.sequence) === pending && pending.token === token;
    // Client side: settling also needs the connection it came on.
    const settleable = () => alive() && current();
    const settle = () => {
      clearTimeout(pending.timer);
      consumer.pending.delete(message.sequence);
      poke(stream);
    };
    const scheduleRedelivery = (delayMs: number) => {
      clearTimeout(pending.timer);
      pending.token = 0;
      if (consumer.spec.maxDeliver > 0 && pending.deliveries >= consumer.spec.maxDeliver) {
        // Like JetStream: past MaxDeliver the message is simply never delivered again.
        consumer.pending.delete(message.sequence);
        return;
      }
      pending.timer = setTimeout(() => {
        consumer.redeliver.push(message.sequence);
        poke(stream);
      }, delayMs);
      pending.timer.unref();
    };
    const armAckWait = () => {
      clearTimeout(pending.timer);
      pending.timer = setTimeout(() => {
        if (current()) scheduleRedelivery(0);
      }, consumer.spec.ackWaitMs);
      pending.timer.unref();
    };
    armAckWait();
    return {
      subject: message.subject,
      data: message.data,
      headers: message.headers,
      deliveryCount: pending.deliveries,
      stream: stream.spec.name,
      consumer: consumer.spec.durable,
      streamSequence: message.sequence,
      ack: () => {
        if (!alive()) return Promise.reject(new Error("connection closed"));
        if (settleable()) settle();
        return Promise.resolve();
      },
      nak: (delayMs = 0) => {
        if (settleable()) scheduleRedelivery(delayMs);
      },
      working: () => {
        if (settleable()) armAckWait();
      },
      term: () => {
        if (settleable()) settle();
      },
    };
  };

  const connect = (): MemoryBus => {
    const subscriptions = new Set<Subscription>();
    let connected = true;
    const alive = () => connected;
    return {
      ensureStream(spec) {
        const existing = streams.get(spec.name);
        if (existing) existing.spec = spec;
        else streams.set(spec.name, { spec, messages: [], recentIds: new Map(), consumers: new Map() });
        return Promise.resolve();
      },

      publish(message: OutgoingMessage): Promise<PublishAck> {
        if (!connected) return Promise.reject(new Error("connection closed"));
        const stream = streamFor(message.subject);
        if (!stream) return Promise.reject(new Error(`no stream captures subject ${message.subject}`));
        const now = Date.now();
        const windowMs = stream.spec.duplicateWindowMs ?? 120_000;
        const seen = stream.recentIds.get(message.messageId);
        if (seen && now - seen.at < windowMs) {
          return Promise.resolve({ stream: stream.spec.name, sequence: seen.sequence, duplicate: true });
        }
        const sequence = stream.messages.length + 1;
        stream.messages.push({ sequence, subject: message.subject, data: message.data, headers: { ...message.headers } });
        stream.recentIds.set(message.messageId, { sequence, at: now });
        poke(stream);
        return Promise.resolve({ stream: stream.spec.name, sequence, duplicate: false });
      },

      subscribe(spec, concurrency, handler) {
        const stream = streams.get(spec.stream);
        if (!stream) return Promise.reject(new Error(`stream ${spec.stream} not found`));
        let consumer = stream.consumers.get(spec.durable);
        if (consumer) consumer.spec = spec;
        else {
          consumer = { spec, cursor: 1, pending: new Map(), redeliver: [], subscribers: new Set() };
          stream.consumers.set(spec.durable, consumer);
        }
        const c = consumer;
        const running = new Set<Promise<void>>();
        let stopped = false;
        const pump = () => {
          while (!stopped && running.size < concurrency) {
            const next = take(stream, c);
            if (!next) return;
            const delivery = deliver(stream, c, next.message, next.pending, alive);
            const run = Promise.resolve()
              .then(() => handler(delivery))
              .catch(() => undefined)
              .finally(() => {
                running.delete(run);
                pump();
              });
            running.add(run);
          }
        };
        c.subscribers.add(pump);
        const subscription: Subscription = {
          stop: async () => {
            stopped = true;
            c.subscribers.delete(pump);
            subscriptions.delete(subscription);
            await Promise.all(running);
          },
          readiness: () => (connected ? READY : { ready: false, reason: `consumer ${spec.durable} on ${spec.stream}: connection closed` }),
        };
        subscriptions.add(subscription);
        setImmediate(pump);
        return Promise.resolve(subscription);
      },

      async close() {
        await Promise.all([...subscriptions].map((s) => s.stop()));
        connected = false;
      },

      crash() {
        connected = false;
        for (const s of subscriptions) void s.stop();
      },
    };
  };

  return { connect };
}
