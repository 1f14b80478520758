// The payments service's tables: one charge row per order (the row lock serializes that
// order's saga events) and an append-only ledger of money movements.
import { sql } from "drizzle-orm";
import { bigint, bigserial, check, index, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

export const charges = pgTable(
  "charges",
  {
    orderId: text("order_id").primaryKey(),
    /** none | captured | declined | refunded | cancelled-before-charge (charge.ts). */
    status: text("status").notNull(),
    paymentId: uuid("payment_id").unique(),
    userId: text("user_id"),
    currencyCode: text("currency_code"),
    amountMinor: bigint("amount_minor", { mode: "bigint" }),
    declineReason: text("decline_reason"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (table) => [
    check("charges_payment_has_amount", sql`${table.paymentId} is null or (${table.amountMinor} is not null and ${table.currencyCode} is not null)`),
  ],
);

/** Money in (capture, positive) and out (refund, negative). An order's sum is what it was charged. */
export const ledgerEntries = pgTable(
  "ledger_entries",
  {
    entryId: bigserial("entry_id", { mode: "bigint" }).primaryKey(),
    paymentId: uuid("payment_id").notNull(),
    orderId: text("order_id").notNull(),
    /** capture | refund */
    kind: text("kind").notNull(),
    amountMinor: bigint("amount_minor", { mode: "bigint" }).notNull(),
    currencyCode: text("currency_code").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (table) => [index("ledger_entries_order").on(table.orderId), check("ledger_entries_kind_known", sql`${table.kind} in ('capture', 'refund')`)],
);

// Kit tables this service owns a copy of: its outbox, its inbox and its dead letters.
export { outbox, inbox, deadLetters } from "@protomesh/messaging";
