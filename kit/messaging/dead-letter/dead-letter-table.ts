import { bigint, integer, jsonb, pgTable, text, timestamp, unique } from "drizzle-orm/pg-core";
import { bytea } from "../bytea.js";

/**
 * Messages a consumer gave up on (past MaxDeliver, or undecodable), copied with their payload
 * and headers before the broker was told to forget them. Export it from the service's schema.
 */
export const deadLetters = pgTable(
  "dead_letters",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    stream: text("stream").notNull(),
    consumer: text("consumer").notNull(),
    subject: text("subject").notNull(),
    /** Stream sequence: with stream and consumer, makes a repeated copy a no-op. */
    streamSequence: bigint("stream_sequence", { mode: "number" }).notNull(),
    deliveries: integer("deliveries").notNull(),
    eventId: text("event_id"),
    eventType: text("event_type"),
    headers: jsonb("headers").$type<Record<string, string>>().notNull().default({}),
    payload: bytea("payload").notNull(),
    /** Why: the handler's last error, or why the message could not be decoded. */
    reason: text("reason").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    replayedAt: timestamp("replayed_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [unique("dead_letters_message_uq").on(t.stream, t.consumer, t.streamSequence)],
);
