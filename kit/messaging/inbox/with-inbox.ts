import { trace } from "@opentelemetry/api";
import { lt, sql } from "drizzle-orm";
import { type Executor, prepareStatement } from "@protomesh/data";
import { inbox } from "./inbox-table.js";

/** What `withInbox` did: ran the effect, or found the event already applied by this consumer. */
export type InboxOutcome<T> = { status: "applied"; value: T } | { status: "duplicate" };

/**
 * The inbox key of one delivery: the durable consumer it came through and the event's id. A
 * `ReceivedEvent` (in Nest, `EventContext.getEvent()`) is one; the consumer consuming it named
 * both, so the key always matches the consumer.
 */
export interface InboxKey {
  readonly consumer: string;
  readonly eventId: string;
}

// Every delivery runs it: built once (docs/adr/0143).
const insertRecord = prepareStatement((db) =>
  db
    .insert(inbox)
    .values({ consumer: sql.placeholder("consumer"), eventId: sql.placeholder("eventId") })
    .onConflictDoNothing()
    .returning({ eventId: inbox.eventId }),
);

/**
 * Records the event's (consumer, event id) in the inbox and runs `effect`, both in the caller's
 * transaction `tx`. A duplicate is found by the primary key, never by reading first: of two concurrent
 * deliveries of one event, the second blocks on the key until the first commits, then reports
 * "duplicate" without running the effect (or applies it, if the first rolled back). On
 * "duplicate", acknowledge the message and skip it.
 */
export async function withInbox<TTx extends Executor, T>(tx: TTx, event: InboxKey, effect: (tx: TTx) => Promise<T>): Promise<InboxOutcome<T>> {
  const { consumer, eventId } = event;
  const inserted = await insertRecord.execute(tx, { consumer, eventId });
  if (inserted.length === 0) {
    // Shows in the consumer's span why this delivery changed nothing.
    trace.getActiveSpan()?.addEvent("inbox duplicate", { "messaging.consumer.group.name": consumer, "messaging.message.id": eventId });
    return { status: "duplicate" };
  }
  return { status: "applied", value: await effect(tx) };
}

/**
 * Deletes inbox records older than `retentionMs`. The retention must outlast every way the
 * event can come back: the relay's republish after a lost lease, the consumer's redeliveries
 * (MaxDeliver × (ack wait + the longest nak delay)) and a dead letter replayed by hand; see
 * `minimumInboxRetentionMs`. Returns the number deleted.
 */
export async function pruneInbox(db: Executor, retentionMs: number): Promise<number> {
  const deleted = await db
    .delete(inbox)
    .where(lt(inbox.processedAt, sql`now() - make_interval(secs => ${retentionMs / 1000})`))
    .returning({ eventId: inbox.eventId });
  return deleted.length;
}

/**
 * The shortest safe inbox retention for a consumer, ms: every redelivery it can see, doubled,
 * and never below a day (dead letters are replayed by people).
 */
export function minimumInboxRetentionMs(consumer: { maxDeliver: number; ackWaitMs: number; maxNakDelayMs: number }): number {
  const redeliveries = consumer.maxDeliver * (consumer.ackWaitMs + consumer.maxNakDelayMs);
  return Math.max(2 * redeliveries, 24 * 3600_000);
}
