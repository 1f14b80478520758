// @protomesh/messaging: a transactional outbox and an inbox on Drizzle, the event-bus port, the
// consumer and dead letters. Framework-free: the buses are in ./jetstream and ./redis-streams,
// the Nest event transport in ./nest.

// Tables: export them from each service's Drizzle schema so its migrations create them.
export { outbox } from "./outbox/outbox-table.js";
export { inbox } from "./inbox/inbox-table.js";
export { deadLetters } from "./dead-letter/dead-letter-table.js";

// Outbox
export { writeEvent, prepareEventWrite, OUTBOX_CHANNEL, type EventToWrite, type WriteEventOptions, type PreparedEventWrite } from "./outbox/writer.js";
export { type Envelope, type EnvelopeState, toOutgoingMessage } from "./outbox/envelope.js";
export { createOutboxRelay, type OutboxRelay, type OutboxRelayDeps } from "./outbox/relay.js";
export { type OutboxRelayOptions, resolveRelayOptions, DEFAULT_OUTBOX_LEASE_MS } from "./outbox/relay-options.js";
export { outboxStats, type OutboxStats } from "./outbox/outbox-stats.js";

// Inbox
export { withInbox, pruneInbox, minimumInboxRetentionMs, type InboxKey, type InboxOutcome } from "./inbox/with-inbox.js";
export { applyOnce } from "./inbox/apply-once.js";

// Bus port
export {
  EventHeaders,
  type OutgoingMessage,
  type PublishAck,
  type EventPublisher,
  type Delivery,
  type ConsumerSpec,
  type EventSubscriber,
  type Subscription,
  type EventBus,
} from "./bus/event-bus.js";
export { type BackoffOptions, backoffDelay } from "./backoff.js";
export { createMemoryBus, createMemoryBroker, type MemoryBus, type MemoryBroker } from "./bus/memory-bus.js";
export { type StreamSpec } from "./bus/event-bus.js";

// Readiness of the event path, for health probes (ADR 0123)
export { type Readiness, combineReadiness, DEFAULT_NOT_READY_AFTER_MS } from "./readiness/readiness.js";
export { Liveness } from "./readiness/liveness.js";

// Consuming
export { createEventConsumer, type EventConsumer, type EventConsumerDeps, type EventHandler, type ReceivedEvent } from "./consumer/event-consumer.js";
export { type EventConsumerOptions, resolveConsumerOptions } from "./consumer/consumer-options.js";
export { defaultDurableName } from "./consumer/durable-name.js";

// Dead letters
export {
  createDeadLetterStore,
  createMemoryDeadLetters,
  type DeadLetter,
  type StoredDeadLetter,
  type DeadLetterSink,
  type DeadLetterStore,
} from "./dead-letter/dead-letter-store.js";
export { replayDeadLetter } from "./dead-letter/replay.js";
