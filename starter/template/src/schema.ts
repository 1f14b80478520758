import { pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

// The outbox, inbox and dead-letter tables of @protomesh/messaging, in this service's migrations.
export { deadLetters, inbox, outbox } from "@protomesh/messaging";

export const notes = pgTable("notes", {
  id: uuid("id").primaryKey().defaultRandom(),
  title: text("title").notNull(),
  body: text("body").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});
