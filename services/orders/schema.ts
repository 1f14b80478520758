// The orders service's tables. The saga tracker lives on the order row itself (deadline,
// stock_reserved), so an order and its saga progress change in one row lock.
import { sql } from "drizzle-orm";
import { bigint, boolean, check, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";

export const orders = pgTable(
  "orders",
  {
    orderId: uuid("order_id").primaryKey(),
    userId: text("user_id").notNull(),
    /** pending | confirmed | cancelled (order-saga.ts). */
    status: text("status").notNull(),
    /** Set when cancelled: out-of-stock | payment-declined | customer-requested | deadline-exceeded. */
    cancellationCause: text("cancellation_cause"),
    currencyCode: text("currency_code").notNull(),
    totalMinor: bigint("total_minor", { mode: "bigint" }).notNull(),
    idempotencyKey: text("idempotency_key").notNull(),
    /** SHA-256 of the create request, so a key reused for a different order is refused. */
    requestHash: text("request_hash").notNull(),
    paymentId: text("payment_id"),
    stockReserved: boolean("stock_reserved").notNull().default(false),
    /** Over sharded inventory, the shards of the order's SKUs that have not reserved yet; null when inventory is not sharded. */
    stockAwaiting: jsonb("stock_awaiting").$type<string[]>(),
    /** When the saga tracker cancels the order if it is still pending. */
    deadline: timestamp("deadline", { withTimezone: true, mode: "date" }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (table) => [
    uniqueIndex("orders_user_idempotency_key").on(table.userId, table.idempotencyKey),
    // Keyset pagination, newest first.
    index("orders_created_at_order_id").on(table.createdAt.desc(), table.orderId.desc()),
    index("orders_user_created_at").on(table.userId, table.createdAt.desc(), table.orderId.desc()),
    // The tracker's sweep: pending orders by deadline.
    index("orders_pending_deadline").on(table.deadline).where(sql`${table.status} = 'pending'`),
    check("orders_status_known", sql`${table.status} in ('pending', 'confirmed', 'cancelled')`),
  ],
);

export const orderLines = pgTable(
  "order_lines",
  {
    orderId: uuid("order_id")
      .notNull()
      .references(() => orders.orderId, { onDelete: "cascade" }),
    lineNo: integer("line_no").notNull(),
    sku: text("sku").notNull(),
    quantity: integer("quantity").notNull(),
    unitPriceMinor: bigint("unit_price_minor", { mode: "bigint" }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.orderId, table.lineNo] }), check("order_lines_quantity_positive", sql`${table.quantity} > 0`)],
);

// Kit tables this service owns a copy of: its outbox, its inbox and its dead letters.
export { outbox, inbox, deadLetters } from "@protomesh/messaging";
