import { randomUUID } from "node:crypto";
import { type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { context, propagation } from "@opentelemetry/api";
import { type SQL, sql, type SQLWrapper } from "drizzle-orm";
import { type Executor, prepareStatement } from "@protomesh/data";
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
 * which sees both only if the transaction commits. Returns the event id. Writes given
 * `alongside` are built into SQL on every call; a step that runs often gives them to
 * `prepareEventWrite` instead.
 */
export async function writeEvent<Desc extends DescMessage>(tx: Executor, input: EventToWrite<Desc>, options: WriteEventOptions = {}): Promise<string> {
  const alongside = options.alongside ?? [];
  if (alongside.length === 0) return eventOnly.write(tx, input);
  const row = outboxRow(input);
  await tx.execute(eventStatement(tx.insert(outbox).values(row), alongside));
  return row.eventId;
}

/** An event write whose statement is built once; see `prepareEventWrite`. */
export interface PreparedEventWrite {
  /**
   * Stores `event` as `writeEvent` does, in the same statement as the alongside writes, run with
   * `values` for their placeholders. Returns the event id.
   */
  write<Desc extends DescMessage>(tx: Executor, input: EventToWrite<Desc>, values?: Record<string, unknown>): Promise<string>;
}

/**
 * `writeEvent` with its `alongside` writes built once, with `sql.placeholder(name)` for every
 * value that changes: the statement's SQL is assembled on the first write only (drizzle's
 * building costs more CPU than PostgreSQL spends running it, docs/adr/0143). The same rule as
 * for `alongside`: only independent writes, no two changing the same row. Placeholder names
 * starting with `outbox_` are this function's own.
 */
export function prepareEventWrite(alongside: (db: Executor) => readonly SQLWrapper[] = () => []): PreparedEventWrite {
  const statement = prepareStatement((db) => eventStatement(db.insert(outbox).values(outboxPlaceholders), alongside(db)));
  return {
    async write(tx, input, values = {}) {
      const row = outboxRow(input);
      await statement.execute(tx, {
        ...values,
        outbox_event_id: row.eventId,
        outbox_aggregate_type: row.aggregateType,
        outbox_aggregate_id: row.aggregateId,
        outbox_event_type: row.eventType,
        outbox_subject: row.subject,
        outbox_payload: row.payload,
        outbox_headers: row.headers,
      });
      return row.eventId;
    },
  };
}

const outboxPlaceholders = {
  eventId: sql.placeholder("outbox_event_id"),
  aggregateType: sql.placeholder("outbox_aggregate_type"),
  aggregateId: sql.placeholder("outbox_aggregate_id"),
  eventType: sql.placeholder("outbox_event_type"),
  subject: sql.placeholder("outbox_subject"),
  payload: sql.placeholder("outbox_payload"),
  headers: sql.placeholder("outbox_headers"),
};

const eventOnly = prepareEventWrite();

function outboxRow<Desc extends DescMessage>(input: EventToWrite<Desc>) {
  const ownId = (input.event as { eventId?: unknown }).eventId;
  return {
    eventId: input.eventId ?? (typeof ownId === "string" && ownId !== "" ? ownId : randomUUID()),
    aggregateType: input.aggregateType,
    aggregateId: input.aggregateId,
    eventType: input.schema.typeName,
    subject: input.subject ?? input.schema.typeName,
    payload: toBinary(input.schema, input.event),
    headers: withTraceContext(input.headers),
  };
}

// One statement, one round trip: a saga step's transaction writes an event at every step, and
// round trips to PostgreSQL are most of what a service spends per saga (docs/benchmarks.md).
// A write may be a builder or a `sql` statement; each gets the parentheses a CTE needs.
function eventStatement(insert: SQLWrapper, alongside: readonly SQLWrapper[]): SQL {
  const writes = alongside.map((write, i) => sql`${sql.identifier(`write_${i}`)} as (${write.getSQL()}), `);
  return sql`with ${sql.join(writes)}stored as ${insert} select pg_notify(${OUTBOX_CHANNEL}, '')`;
}

// The row carries the trace context of the transaction that wrote it, so the relay's publish,
// however much later, continues the same trace. Without telemetry the propagator adds nothing.
function withTraceContext(headers: Record<string, string> | undefined): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return { ...carrier, ...headers };
}
