import { randomUUID } from "node:crypto";
import { type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { context, propagation } from "@opentelemetry/api";
import { sql, type SQLWrapper } from "drizzle-orm";
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

export interface WriteEventOptions {
  /**
   * Other writes of the transaction to send in the event's statement, as data-modifying CTEs
   * (e.g. the update of the aggregate's row): one round trip for all of them instead of one each.
   * They run against the rows as they were before the statement and do not see each other's
   * changes, so only independent writes may go together, and no two may change the same row.
   * Their RETURNING clauses run, but their rows are not returned. Default: none.
   */
  alongside?: readonly SQLWrapper[] | undefined;
}

/**
 * Stores `event` in the outbox inside the caller's transaction `tx` and notifies the relay,
 * which sees both only if the transaction commits. Returns the event id.
 */
export async function writeEvent<Desc extends DescMessage>(tx: Executor, input: EventToWrite<Desc>, options: WriteEventOptions = {}): Promise<string> {
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
  // Drizzle puts each embedded statement in the parentheses a CTE needs.
  const alongside = (options.alongside ?? []).map((write, i) => sql`${sql.identifier(`write_${i}`)} as ${write}, `);
  await tx.execute(sql`with ${sql.join(alongside)}stored as ${insert} select pg_notify(${OUTBOX_CHANNEL}, '')`);
  return eventId;
}

// The row carries the trace context of the transaction that wrote it, so the relay's publish,
// however much later, continues the same trace. Without telemetry the propagator adds nothing.
function withTraceContext(headers: Record<string, string> | undefined): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return { ...carrier, ...headers };
}
