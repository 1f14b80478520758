// Inventory's saga handlers: each runs inside the consumer's transaction (with the inbox
// record), locks the order's reservation row and the stock rows it touches, applies the
// domain decision and writes the resulting events to the outbox.
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { randomUUID } from "node:crypto";
import { asc, eq, inArray, sql } from "drizzle-orm";
import type { Tx } from "@protomesh/data";
import { writeEvent } from "@protomesh/messaging";
import type { OrderCancelled, OrderConfirmed, OrderPlaced } from "protomesh/gen/shop/orders/v1/events_pb";
import { StockRejectedSchema, StockReleasedSchema, StockReservedSchema } from "protomesh/gen/shop/inventory/v1/events_pb";
import { decide, type ReservationDecision, type ReservationEffect, type ReservationInput, type ReservationState, type StockLevel } from "./domain/reservation.js";
import { reservations, stockItems } from "./schema.js";

const AGGREGATE = "order";

/**
 * Inserts the order's row if missing, then locks it: concurrent events of one order queue here.
 * With `create: false` a missing row stays missing and reads as "none".
 */
async function lockReservation(tx: Tx, orderId: string, create = true): Promise<ReservationState> {
  if (create) await tx.insert(reservations).values({ orderId, status: "none", updatedAt: new Date() }).onConflictDoNothing();
  const [row] = await tx.select().from(reservations).where(eq(reservations.orderId, orderId)).for("update");
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
  for (const change of decision.stockChanges) {
    await tx
      .update(stockItems)
      .set({
        available: sql`${stockItems.available} + ${change.available}`,
        reserved: sql`${stockItems.reserved} + ${change.reserved}`,
        sold: sql`${stockItems.sold} + ${change.sold}`,
        updatedAt: now,
      })
      .where(eq(stockItems.sku, change.sku));
  }
  const next = decision.next;
  await tx
    .update(reservations)
    .set({ status: next.status, lines: "lines" in next ? next.lines : [], updatedAt: now })
    .where(eq(reservations.orderId, orderId));
  for (const effect of decision.effects) await publish(tx, orderId, effect, extra);
  return decision;
}

async function publish(tx: Tx, orderId: string, effect: ReservationEffect, extra: { userId?: string; amount?: OrderPlaced["total"] }) {
  const common = { eventId: randomUUID(), orderId, occurredAt: timestampNow() };
  switch (effect.kind) {
    case "publish-stock-reserved":
      await writeEvent(tx, {
        aggregateType: AGGREGATE,
        aggregateId: orderId,
        schema: StockReservedSchema,
        event: create(StockReservedSchema, { ...common, lines: effect.lines, userId: extra.userId ?? "", ...(extra.amount ? { amount: extra.amount } : {}) }),
      });
      return;
    case "publish-stock-rejected":
      await writeEvent(tx, {
        aggregateType: AGGREGATE,
        aggregateId: orderId,
        schema: StockRejectedSchema,
        event: create(StockRejectedSchema, { ...common, shortages: effect.shortages }),
      });
      return;
    case "publish-stock-released":
      await writeEvent(tx, {
        aggregateType: AGGREGATE,
        aggregateId: orderId,
        schema: StockReleasedSchema,
        event: create(StockReleasedSchema, { ...common, lines: effect.lines }),
      });
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
