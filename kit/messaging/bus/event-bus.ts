import type { Readiness } from "../readiness/readiness.js";

/** Header names protomesh puts on every event message. */
export const EventHeaders = {
  /** Fully-qualified protobuf type of the payload, e.g. `acme.items.v1.ItemAdded`. */
  eventType: "Protomesh-Event-Type",
  eventId: "Protomesh-Event-Id",
  aggregateType: "Protomesh-Aggregate-Type",
  aggregateId: "Protomesh-Aggregate-Id",
} as const;

/** One message to publish. */
export interface OutgoingMessage {
  subject: string;
  /** Protobuf binary encoding of the event. */
  data: Uint8Array;
  headers: Record<string, string>;
  /**
   * Deduplication id (JetStream `Nats-Msg-Id`): a second publish with the same id within the
   * stream's duplicate window is acknowledged as a duplicate and not stored again.
   */
  messageId: string;
}

export interface PublishAck {
  stream: string;
  sequence: number;
  /** True when the broker already had a message with this `messageId`. */
  duplicate: boolean;
}

/**
 * Publishes to a persistent stream. `publish` resolves only once the broker has stored the
 * message (a PubAck), and rejects when no stream captures the subject or the broker is down.
 * Safe to call concurrently.
 */
export interface EventPublisher {
  publish(message: OutgoingMessage): Promise<PublishAck>;
}

/**
 * One delivery of a stored message to one consumer. Exactly one of `ack`, `nak` or `term`
 * settles it; settling twice is a no-op. Unsettled, it is redelivered after the ack wait.
 */
export interface Delivery {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  /** 1 on first delivery; counts every redelivery, after naks and ack timeouts alike. */
  readonly deliveryCount: number;
  readonly stream: string;
  readonly consumer: string;
  /** Position in the stream; with stream and consumer it names the message uniquely. */
  readonly streamSequence: number;
  /**
   * Done: the message will not be delivered to this consumer again. Resolves once the ack is
   * sent, without waiting for the broker to confirm it (a round trip per delivery, docs/adr/0146):
   * an ack lost on the way brings the message back after the ack wait, as any crash before the
   * ack would, and the consumer's inbox absorbs the rerun. Rejects when it cannot be sent.
   */
  ack(): Promise<void>;
  /** Failed: redeliver after `delayMs` (0 = now). Counts toward MaxDeliver. */
  nak(delayMs?: number): void;
  /** Still working: restarts the ack-wait timer so a slow handler is not redelivered to another worker. */
  working(): void;
  /** Give up: never redeliver this message to this consumer. */
  term(reason?: string): void;
}

/** A durable consumer shared by all replicas: each message goes to one of them (competing consumers). */
export interface ConsumerSpec {
  stream: string;
  /** Durable name; the same name on every replica of a service. */
  durable: string;
  /** Only messages on this subject (wildcards allowed) reach the consumer. */
  filterSubject: string;
  /** Deliveries before a message counts as poison. */
  maxDeliver: number;
  /** How long a delivery may stay unsettled before it is redelivered, ms. */
  ackWaitMs: number;
  /** Deliveries handed out and not yet settled, at most, per subscriber. */
  maxAckPending: number;
}

/**
 * Pulls deliveries for one durable consumer. `handler` is called for up to `concurrency`
 * deliveries at once; the subscription never settles a delivery itself, the handler must.
 */
export interface EventSubscriber {
  /** Creates the durable consumer or updates its configuration, then starts pulling. */
  subscribe(consumer: ConsumerSpec, concurrency: number, handler: (delivery: Delivery) => Promise<void>): Promise<Subscription>;
}

export interface Subscription {
  /** Stops pulling and waits for the handlers already running to finish. */
  stop(): Promise<void>;
  /**
   * Whether deliveries can reach this subscription now: not ready once its broker has not
   * answered it (messages, heartbeats, reads) for the bus's `notReadyAfterMs`. Reads state only.
   */
  readiness(): Readiness;
}

/** A persistent stream, declared in code and created or updated at start-up. */
export interface StreamSpec {
  name: string;
  /** Subjects it captures (wildcards allowed), e.g. `acme.items.v1.>`. */
  subjects: string[];
  /** Window for `messageId` dedupe, ms. Default 120 000 (the server's). */
  duplicateWindowMs?: number | undefined;
  /** Age after which messages are discarded, ms; 0 keeps them. Default 0. */
  maxAgeMs?: number | undefined;
  /** Copies kept by a cluster (1, 3 or 5). Default 1; use 3 in production clusters. */
  replicas?: number | undefined;
}

/** A broker: the port the outbox relay and the event consumer use. In-memory fake: `createMemoryBus`. */
export interface EventBus extends EventPublisher, EventSubscriber {
  /** Creates the stream, or updates it when its configuration differs. Idempotent. */
  ensureStream(stream: StreamSpec): Promise<void>;
  /** Stops every subscription; the underlying connection is the caller's to close. */
  close(): Promise<void>;
}
