// @protomesh/messaging/jetstream: the event bus on NATS JetStream.
export { createJetStreamBus, DEFAULT_JETSTREAM_TIMEOUT_MS, type JetStreamBusOptions } from "./jetstream-bus.js";
