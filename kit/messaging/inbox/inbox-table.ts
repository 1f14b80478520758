import { index, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * The inbox: which events each consumer has applied. The primary key (consumer, event id) is
 * what makes a second application impossible. Export it from the service's Drizzle schema.
 */
export const inbox = pgTable(
  "inbox",
  {
    consumer: text("consumer").notNull(),
    eventId: text("event_id").notNull(),
    processedAt: timestamp("processed_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.consumer, t.eventId] }), index("inbox_processed_at_idx").on(t.processedAt)],
);
