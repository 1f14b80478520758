import type { Counter, Histogram, Meter } from "@opentelemetry/api";

// Seconds, from 5 ms to a minute: publish latency, outbox lag, event processing and sagas.
const secondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
// Milliseconds for RPCs, as the RPC semantic conventions (rpc.server.duration) record them.
const rpcBucketsMs = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** Every synchronous instrument the toolkit records into; the observable ones live with their state. */
export interface Instruments {
  rpcServerDuration: Histogram;
  rpcClientDuration: Histogram;
  clientRetries: Counter;
  clientRetryBudgetExhausted: Counter;
  clientEjections: Counter;
  circuitTransitions: Counter;
  publishDuration: Histogram;
  outboxPublished: Counter;
  outboxPublishLag: Histogram;
  processDuration: Histogram;
  redeliveries: Counter;
  deadLetters: Counter;
  sagaOutcomes: Counter;
  sagaDuration: Histogram;
}

/** The instruments, the toolkit's own under `namespace` ("protomesh" makes `protomesh.outbox.published`). */
export function createInstruments(meter: Meter, namespace: string): Instruments {
  const seconds = (name: string, description: string) =>
    meter.createHistogram(name, { unit: "s", description, advice: { explicitBucketBoundaries: secondsBuckets } });
  const rpcMs = (name: string, description: string) =>
    meter.createHistogram(name, { unit: "ms", description, advice: { explicitBucketBoundaries: rpcBucketsMs } });
  return {
    rpcServerDuration: rpcMs("rpc.server.duration", "Duration of calls served, by method and gRPC status code"),
    rpcClientDuration: rpcMs("rpc.client.duration", "Duration of calls made, retries included, by method and gRPC status code"),
    clientRetries: meter.createCounter(`${namespace}.client.retries`, { description: "Retried attempts, by method and the code that caused the retry" }),
    clientRetryBudgetExhausted: meter.createCounter(`${namespace}.client.retry_budget.exhausted`, { description: "Retries refused because the retry budget was spent" }),
    clientEjections: meter.createCounter(`${namespace}.client.endpoint.ejections`, { description: "Endpoints taken out of balancing, by reason" }),
    circuitTransitions: meter.createCounter(`${namespace}.client.circuit.transitions`, { description: "Circuit breaker state changes, by circuit and new state" }),
    publishDuration: seconds("messaging.client.operation.duration", "Time for the broker to acknowledge a publish"),
    outboxPublished: meter.createCounter(`${namespace}.outbox.published`, { description: "Outbox events published, by event type" }),
    outboxPublishLag: seconds(`${namespace}.outbox.publish_lag`, "Time from an event's commit to the outbox until the broker stored it"),
    processDuration: seconds("messaging.process.duration", "Time to handle one delivery, by subject, consumer and outcome"),
    redeliveries: meter.createCounter(`${namespace}.consumer.redeliveries`, { description: "Deliveries of a message that was delivered before" }),
    deadLetters: meter.createCounter(`${namespace}.consumer.dead_letters`, { description: "Messages copied to the dead-letter table and terminated" }),
    sagaOutcomes: meter.createCounter(`${namespace}.saga.outcomes`, { description: "Sagas ended, by outcome" }),
    sagaDuration: seconds(`${namespace}.saga.duration`, "Time from the request that began a saga to the event that ended it, by outcome"),
  };
}
