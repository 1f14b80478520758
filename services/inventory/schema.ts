// The inventory service's tables. Stock counters are guarded by CHECK constraints as well as
// by the code, so no bug or race can store a negative count.
import { sql } from "drizzle-orm";
import { bigint, bigserial, check, index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import type { Line } from "./domain/reservation.js";

export const stockItems = pgTable(
  "stock_items",
  {
    sku: text("sku").primaryKey(),
    name: text("name").notNull(),
    available: integer("available").notNull(),
    reserved: integer("reserved").notNull().default(0),
    sold: integer("sold").notNull().default(0),
    currencyCode: text("currency_code").notNull(),
    unitPriceMinor: bigint("unit_price_minor", { mode: "bigint" }).notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (table) => [
    check("stock_items_available_not_negative", sql`${table.available} >= 0`),
    check("stock_items_reserved_not_negative", sql`${table.reserved} >= 0`),
    check("stock_items_sold_not_negative", sql`${table.sold} >= 0`),
  ],
);

/**
 * Every change to a SKU's total stock (set, adjust). The sum of a SKU's deltas equals
 * available + reserved + sold: the stock-conservation invariant checks exactly that.
 */
export const stockLedger = pgTable(
  "stock_ledger",
  {
    entryId: bigserial("entry_id", { mode: "bigint" }).primaryKey(),
    sku: text("sku")
      .notNull()
      .references(() => stockItems.sku),
    delta: integer("delta").notNull(),
    reason: text("reason").notNull(),
    /** Set for AdjustStock calls, so a retried adjustment applies once. */
    idempotencyKey: text("idempotency_key").unique(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (table) => [index("stock_ledger_sku").on(table.sku)],
);

/** One row per order the saga told inventory about; the row lock serializes its events. */
export const reservations = pgTable(
  "reservations",
  {
    orderId: text("order_id").primaryKey(),
    /** none | reserved | rejected | released | sold | cancelled-before-placed (reservation.ts). */
    status: text("status").notNull(),
    lines: jsonb("lines").$type<Line[]>().notNull().default([]),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull(),
  },
);

// Kit tables this service owns a copy of: its outbox, its inbox and its dead letters.
export { outbox, inbox, deadLetters } from "@protomesh/messaging";
