import { randomUUID } from "node:crypto";
import { type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { context, propagation } from "@opentelemetry/api";
import { sql } from "drizzle-orm";
import type { Executor } from "@protomesh/data";
import { outbox } from "./outbox-table.js";

/** The channel `writeEvent` notifies and the relay listens on. */
export const OUTBOX_CHANNEL = "protomesh_outbox";

export interface EventToWrite<Desc extends DescMessage> {
  aggregateType: string;
  aggregateId: string;
  /** The generated schema of the event, e.g. `ItemAddedSchema`. */
  schema: Desc;
  event: MessageShape<Desc>;
  /**
   * Default: the event's own `eventId` field when it has a non-empty one, else a random UUID.
   * Keep it stable across retries of the same business operation.
   */
  eventId?: string | undefined;
  /** Default: the event type name (`acme.items.v1.ItemAdded`); streams capture by prefix. */
  subject?: string | undefined;
  /** Extra headers. Default: none; the active trace context (traceparent, baggage) is added unless given here. */
  headers?: Record<string, string> | undefined;
}

/**
 * Stores `event` in the outbox inside the caller's transaction `tx` and notifies the relay,
 * which sees both only if the transaction commits. Returns the event id.
 */
export async function writeEvent<Desc extends DescMessage>(tx: Executor, input: EventToWrite<Desc>): Promise<string> {
  const ownId = (input.event as { eventId?: unknown }).eventId;
  const eventId = input.eventId ?? (typeof ownId === "string" && ownId !== "" ? ownId : randomUUID());
  const insert = tx.insert(outbox).values({
    eventId,
    aggregateType: input.aggregateType,
    aggregateId: input.aggregateId,
    eventType: input.schema.typeName,
    subject: input.subject ?? input.schema.typeName,
    payload: toBinary(input.schema, input.event),
    headers: withTraceContext(input.headers),
  });
  // One statement, one round trip: a saga step's transaction writes an event at every step, and
  // round trips to PostgreSQL are most of what a service spends per saga (docs/benchmarks.md).
  // Drizzle puts the embedded insert in the parentheses the CTE needs.
  await tx.execute(sql`with stored as ${insert} select pg_notify(${OUTBOX_CHANNEL}, '')`);
  return eventId;
}

// The row carries the trace context of the transaction that wrote it, so the relay's publish,
// however much later, continues the same trace. Without telemetry the propagator adds nothing.
function withTraceContext(headers: Record<string, string> | undefined): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return { ...carrier, ...headers };
}
