import { sql } from "drizzle-orm";
import { bigint, index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { bytea } from "../bytea.js";

/**
 * The outbox: one row per event, written in the transaction that changed the aggregate.
 * Export it from the service's Drizzle schema so drizzle-kit puts it in the service's migrations.
 * `id` orders events of one aggregate; nothing relies on ids being gap-free or committed in order.
 */
export const outbox = pgTable(
  "outbox",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    eventId: text("event_id").notNull().unique(),
    aggregateType: text("aggregate_type").notNull(),
    aggregateId: text("aggregate_id").notNull(),
    /** Fully-qualified protobuf type name, e.g. `acme.items.v1.ItemAdded`. */
    eventType: text("event_type").notNull(),
    subject: text("subject").notNull(),
    payload: bytea("payload").notNull(),
    /** Message headers, the trace context (`traceparent`, `tracestate`) among them. */
    headers: jsonb("headers").$type<Record<string, string>>().notNull().default({}),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    publishedAt: timestamp("published_at", { withTimezone: true, mode: "date" }),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    lastError: text("last_error"),
    /** A relay's lease on the row while it publishes; an expired lease frees the row. */
    claimedBy: text("claimed_by"),
    claimedUntil: timestamp("claimed_until", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    index("outbox_pending_idx").on(t.aggregateType, t.aggregateId, t.id).where(sql`published_at is null`),
    // The relay's claim reads pending rows in id order and stops after a batch of claimable heads;
    // without this index it scans published rows or sorts the whole backlog (ADR 91).
    index("outbox_pending_id_idx").on(t.id).where(sql`published_at is null`),
    index("outbox_published_idx").on(t.publishedAt).where(sql`published_at is not null`),
  ],
);
