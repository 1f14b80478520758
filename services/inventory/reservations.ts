// Inventory's saga handlers: each runs inside the consumer's transaction (with the inbox
// record), locks the order's reservation row and the stock rows it touches, applies the
// domain decision and writes the resulting events to the outbox.
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { randomUUID } from "node:crypto";
import { asc, eq, inArray, sql, type SQLWrapper } from "drizzle-orm";
import type { Tx } from "@protomesh/data";
import { writeEvent } from "@protomesh/messaging";
import type { OrderCancelled, OrderConfirmed, OrderPlaced } from "protomesh/gen/shop/orders/v1/events_pb";
import { StockRejectedSchema, StockReleasedSchema, StockReservedSchema } from "protomesh/gen/shop/inventory/v1/events_pb";
import { decide, type ReservationDecision, type ReservationEffect, type ReservationInput, type ReservationState, type StockLevel } from "./domain/reservation.js";
import { reservations, stockItems } from "./schema.js";

const AGGREGATE = "order";

/**
 * The order's row, locked: concurrent events of one order queue here. A row this transaction
 * inserts is its own until it commits, so only a row that already existed is read and locked.
 * With `create: false` a missing row stays missing and reads as "none".
 */
async function lockReservation(tx: Tx, orderId: string, create = true): Promise<ReservationState> {
  const [inserted] = create ? await tx.insert(reservations).values({ orderId, status: "none", updatedAt: new Date() }).onConflictDoNothing().returning() : [];
  const [row] = inserted !== undefined ? [inserted] : await tx.select().from(reservations).where(eq(reservations.orderId, orderId)).for("update");
  if (row === undefined) {
    if (!create) return { status: "none" };
    throw new Error(`reservation row for order ${orderId} vanished inside its transaction`);
  }
  switch (row.status) {
    case "reserved":
    case "released":
    case "sold":
      return { status: row.status, lines: row.lines };
    case "none":
    case "rejected":
    case "cancelled-before-placed":
      return { status: row.status };
    default:
      throw new Error(`unknown reservation status ${row.status} for order ${orderId}`);
  }
}

/** Independent writes as one statement (data-modifying CTEs): one round trip for all of them. */
async function writeTogether(tx: Tx, writes: readonly SQLWrapper[]): Promise<void> {
  const [only] = writes;
  if (writes.length === 1 && only !== undefined) await tx.execute(only.getSQL());
  else await tx.execute(sql`with ${sql.join(writes.map((write, i) => sql`${sql.identifier(`write_${i}`)} as ${write}`), sql`, `)} select 1`);
}

/** Locks stock rows in SKU order, so two orders touching the same SKUs cannot deadlock. */
async function lockStock(tx: Tx, skus: string[]): Promise<Map<string, StockLevel>> {
  if (skus.length === 0) return new Map();
  const rows = await tx
    .select({ sku: stockItems.sku, available: stockItems.available, reserved: stockItems.reserved, sold: stockItems.sold })
    .from(stockItems)
    .where(inArray(stockItems.sku, skus))
    .orderBy(asc(stockItems.sku))
    .for("update");
  return new Map(rows.map((row) => [row.sku, row]));
}

async function apply(
  tx: Tx,
  orderId: string,
  input: (state: ReservationState) => Promise<ReservationInput>,
  extra: { userId?: string; amount?: OrderPlaced["total"] } = {},
  createRow = true,
) {
  const state = await lockReservation(tx, orderId, createRow);
  const decision = decide(state, await input(state));
  if (decision.kind === "ignore") return decision;
  const now = new Date();
  // decide() names each SKU once (it merges an order's lines), so no two of these writes change
  // the same row, and the stock rows are locked already: they can go in one statement, with the event.
  const writes: SQLWrapper[] = decision.stockChanges.map((change) =>
    tx
      .update(stockItems)
      .set({
        available: sql`${stockItems.available} + ${change.available}`,
        reserved: sql`${stockItems.reserved} + ${change.reserved}`,
        sold: sql`${stockItems.sold} + ${change.sold}`,
        updatedAt: now,
      })
      .where(eq(stockItems.sku, change.sku)),
  );
  const next = decision.next;
  writes.push(
    tx
      .update(reservations)
      .set({ status: next.status, lines: "lines" in next ? next.lines : [], updatedAt: now })
      .where(eq(reservations.orderId, orderId)),
  );
  const [first, ...more] = decision.effects;
  if (first === undefined) await writeTogether(tx, writes);
  else await publish(tx, orderId, first, extra, writes);
  for (const effect of more) await publish(tx, orderId, effect, extra);
  return decision;
}

async function publish(tx: Tx, orderId: string, effect: ReservationEffect, extra: { userId?: string; amount?: OrderPlaced["total"] }, alongside: readonly SQLWrapper[] = []) {
  const common = { eventId: randomUUID(), orderId, occurredAt: timestampNow() };
  const options = { alongside };
  switch (effect.kind) {
    case "publish-stock-reserved":
      await writeEvent(tx, {
        aggregateType: AGGREGATE,
        aggregateId: orderId,
        schema: StockReservedSchema,
        event: create(StockReservedSchema, { ...common, lines: effect.lines, userId: extra.userId ?? "", ...(extra.amount ? { amount: extra.amount } : {}) }),
      }, options);
      return;
    case "publish-stock-rejected":
      await writeEvent(tx, {
        aggregateType: AGGREGATE,
        aggregateId: orderId,
        schema: StockRejectedSchema,
        event: create(StockRejectedSchema, { ...common, shortages: effect.shortages }),
      }, options);
      return;
    case "publish-stock-released":
      await writeEvent(tx, {
        aggregateType: AGGREGATE,
        aggregateId: orderId,
        schema: StockReleasedSchema,
        event: create(StockReleasedSchema, { ...common, lines: effect.lines }),
      }, options);
      return;
  }
}

/**
 * The handlers of one inventory: all SKUs, or one shard's (ADR 0105). A shard reserves and
 * releases only its own lines of an order and ignores an order with none; its StockReserved
 * still carries the order's whole total, since payments charges an order once, on the first
 * reservation it sees.
 */
export function createReservationHandlers(owns: (sku: string) => boolean = () => true) {
  return {
    async orderPlaced(tx: Tx, event: OrderPlaced): Promise<ReservationDecision> {
      const lines = event.lines.filter(({ sku }) => owns(sku)).map(({ sku, quantity }) => ({ sku, quantity }));
      // A shard none of whose SKUs the order names takes no part in its saga.
      if (lines.length === 0 && event.lines.length > 0) return { kind: "ignore", why: "no line of the order is in this shard" };
      return apply(
        tx,
        event.orderId,
        async (state) => ({
          kind: "order-placed",
          lines,
          // Only lock stock when there is something to decide; a tombstone needs none.
          stock: state.status === "none" ? await lockStock(tx, [...new Set(lines.map((line) => line.sku))].sort()) : new Map(),
        }),
        { userId: event.userId, amount: event.total },
      );
    },

    async orderCancelled(tx: Tx, event: OrderCancelled): Promise<ReservationDecision> {
      return apply(tx, event.orderId, async (state) => {
        if (state.status === "reserved") await lockStock(tx, [...new Set(state.lines.map((line) => line.sku))].sort());
        return { kind: "order-cancelled" };
      });
    },

    async orderConfirmed(tx: Tx, event: OrderConfirmed): Promise<ReservationDecision> {
      // No row means nothing held here (a shard the order does not touch): nothing to store either.
      return apply(
        tx,
        event.orderId,
        async (state) => {
          if (state.status === "reserved") await lockStock(tx, [...new Set(state.lines.map((line) => line.sku))].sort());
          return { kind: "order-confirmed" };
        },
        {},
        false,
      );
    },
  };
}

export type ReservationHandlers = ReturnType<typeof createReservationHandlers>;

/** The handlers of an unsharded inventory. */
export const reservationHandlers = createReservationHandlers();
