import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Link, type Span } from "@opentelemetry/api";
import { EventHeaders, type Delivery, type Envelope, type EventBus, type OutgoingMessage, type PublishAck } from "@protomesh/messaging";
import { originOf, type TelemetryScope } from "./scope.js";

/**
 * The bus with messaging spans and metrics. `publish` makes a PRODUCER span whose parent is the
 * trace context in the message's headers (for the relay: the one stored with the outbox row)
 * and replaces that context with its own; each delivery runs its handler in a CONSUMER span that
 * continues the producer's trace, whatever the delivery count. A redelivery is a sibling of the
 * first delivery under the same producer, and says which delivery it is.
 */
export function instrumentBus(bus: EventBus, scope: TelemetryScope, system: string): EventBus {
  return {
    ensureStream: (stream) => bus.ensureStream(stream),
    close: () => bus.close(),
    publish: (message) => publish(bus, scope, system, message),
    subscribe: (spec, concurrency, handler) =>
      bus.subscribe(spec, concurrency, (delivery) => process(scope, system, delivery, handler)),
  };
}

async function publish(bus: EventBus, scope: TelemetryScope, system: string, message: OutgoingMessage): Promise<PublishAck> {
  const start = performance.now();
  const attributes: Attributes = {
    "messaging.system": system,
    "messaging.operation.type": "send",
    "messaging.operation.name": "publish",
    "messaging.destination.name": message.subject,
    "messaging.message.id": message.messageId,
  };
  const stored = propagation.extract(ROOT_CONTEXT, message.headers);
  // Published in a relay round: the round is a batch, linked rather than made the parent.
  const round = trace.getActiveSpan();
  const links: Link[] = round === undefined ? [] : [{ context: round.spanContext() }];
  const span = scope.tracer?.startSpan(`publish ${message.subject}`, { kind: SpanKind.PRODUCER, attributes, links }, stored);
  const headers = { ...message.headers };
  propagation.inject(span === undefined ? stored : trace.setSpan(stored, span), headers);
  try {
    const ack = await bus.publish({ ...message, headers });
    span?.setAttributes({ "messaging.destination.partition.id": ack.stream, "protomesh.stream.sequence": ack.sequence, "protomesh.publish.duplicate": ack.duplicate });
    return ack;
  } catch (error) {
    if (span !== undefined) fail(span, error);
    throw error;
  } finally {
    scope.instruments?.publishDuration.record((performance.now() - start) / 1000, {
      "messaging.system": system,
      "messaging.operation.name": "publish",
      "messaging.destination.name": message.subject,
    });
    span?.end();
  }
}

type Outcome = "ack" | "nak" | "term" | "unsettled";

async function process(scope: TelemetryScope, system: string, delivery: Delivery, handler: (delivery: Delivery) => Promise<void>): Promise<void> {
  const start = performance.now();
  const metricAttributes: Attributes = {
    "messaging.system": system,
    "messaging.destination.name": delivery.subject,
    "messaging.consumer.group.name": delivery.consumer,
  };
  const parent = propagation.extract(ROOT_CONTEXT, delivery.headers);
  const span = scope.tracer?.startSpan(
    `process ${delivery.subject}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        ...metricAttributes,
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.message.id": delivery.headers[EventHeaders.eventId] ?? "",
        "protomesh.event.type": delivery.headers[EventHeaders.eventType] ?? "",
        "protomesh.delivery.count": delivery.deliveryCount,
        "protomesh.stream.sequence": delivery.streamSequence,
      },
    },
    parent,
  );
  const settled: { outcome: Outcome } = { outcome: "unsettled" };
  const settle = <A extends unknown[], R>(name: Outcome, fn: (...args: A) => R) => (...args: A): R => {
    if (settled.outcome === "unsettled") settled.outcome = name;
    return fn(...args);
  };
  const observed: Delivery = {
    ...delivery,
    ack: settle("ack", () => delivery.ack()),
    nak: settle("nak", (delayMs?: number) => delivery.nak(delayMs)),
    working: () => delivery.working(),
    term: settle("term", (reason?: string) => delivery.term(reason)),
  };
  if (delivery.deliveryCount > 1) scope.instruments?.redeliveries.add(1, metricAttributes);
  try {
    await context.with(scope.enter(span === undefined ? parent : trace.setSpan(parent, span)), () => handler(observed));
  } finally {
    const { outcome } = settled;
    // The event consumer terminates a message only after copying it to the dead letters.
    if (outcome === "term") scope.instruments?.deadLetters.add(1, metricAttributes);
    scope.instruments?.processDuration.record((performance.now() - start) / 1000, { ...metricAttributes, "protomesh.outcome": outcome });
    if (span !== undefined) {
      span.setAttribute("protomesh.outcome", outcome);
      if (outcome === "nak" || outcome === "term") span.setStatus({ code: SpanStatusCode.ERROR, message: outcome === "term" ? "dead-lettered" : "failed, redelivered later" });
      span.end();
    }
  }
}

/**
 * The relay's hooks: each round runs in an INTERNAL span linked to the trace of every row it
 * claimed (a batch has no one parent), and each published row counts toward outbox lag and, when
 * its event type ends a saga, the saga's outcome and duration.
 */
export function relayHooks(scope: TelemetryScope, sagaOutcomes: Readonly<Record<string, string>>) {
  return {
    aroundRound<T>(rows: readonly Envelope[], publishRows: () => Promise<T>): Promise<T> {
      const tracer = scope.tracer;
      if (tracer === undefined) return publishRows();
      const links: Link[] = [];
      for (const row of rows) {
        const stored = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, row.headers));
        if (stored !== undefined) links.push({ context: stored, attributes: { "messaging.message.id": row.eventId } });
      }
      const span = tracer.startSpan("outbox relay", { kind: SpanKind.INTERNAL, links, attributes: { "messaging.batch.message_count": rows.length } }, ROOT_CONTEXT);
      return context.with(trace.setSpan(ROOT_CONTEXT, span), publishRows).finally(() => span.end());
    },
    onPublished(row: Envelope): void {
      const instruments = scope.instruments;
      if (instruments === undefined) return;
      const now = Date.now();
      instruments.outboxPublished.add(1, { "protomesh.event.type": row.eventType });
      instruments.outboxPublishLag.record(Math.max(0, now - row.createdAt.getTime()) / 1000, { "protomesh.event.type": row.eventType });
      const outcome = sagaOutcomes[row.eventType];
      if (outcome === undefined) return;
      instruments.sagaOutcomes.add(1, { "protomesh.saga.outcome": outcome });
      const origin = originOf(propagation.extract(ROOT_CONTEXT, row.headers));
      if (origin !== undefined) instruments.sagaDuration.record(Math.max(0, row.createdAt.getTime() - origin) / 1000, { "protomesh.saga.outcome": outcome });
    },
  };
}

function fail(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  if (error instanceof Error) span.recordException(error);
}
