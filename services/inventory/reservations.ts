// Inventory's saga handlers: each runs inside the consumer's transaction (with the inbox
// record), locks the order's reservation row and the stock rows it touches, applies the
// domain decision and writes the resulting events to the outbox.
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { randomUUID } from "node:crypto";
import type { DescMessage } from "@bufbuild/protobuf";
import { asc, eq, sql } from "drizzle-orm";
import { columnPlaceholder, type Executor, prepareStatement, type Tx } from "@protomesh/data";
import { type EventToWrite, prepareEventWrite, writeEvent } from "@protomesh/messaging";
import type { OrderCancelled, OrderConfirmed, OrderPlaced } from "protomesh/gen/shop/orders/v1/events_pb";
import { StockRejectedSchema, StockReleasedSchema, StockReservedSchema } from "protomesh/gen/shop/inventory/v1/events_pb";
import { decide, type ReservationDecision, type ReservationEffect, type ReservationInput, type ReservationState, type StockLevel } from "./domain/reservation.js";
import { reservations, stockItems } from "./schema.js";

const AGGREGATE = "order";

// Every saga step runs these: each is built once, values go in as placeholders (docs/adr/0143).
const insertReservation = prepareStatement((db) =>
  db
    .insert(reservations)
    .values({ orderId: sql.placeholder("orderId"), status: "none", updatedAt: sql.placeholder("now") })
    .onConflictDoNothing()
    .returning(),
);
const reservationForUpdate = prepareStatement((db) => db.select().from(reservations).where(eq(reservations.orderId, sql.placeholder("orderId"))).for("update"));
// Any number of SKUs in one array parameter, so one statement serves every order.
const stockForUpdate = prepareStatement((db) =>
  db
    .select({ sku: stockItems.sku, available: stockItems.available, reserved: stockItems.reserved, sold: stockItems.sold })
    .from(stockItems)
    .where(sql`${stockItems.sku} = any(${sql.placeholder("skus")}::text[])`)
    .orderBy(asc(stockItems.sku))
    .for("update"),
);

// The step's writes. decide() names each SKU once (it merges an order's lines), so the stock
// update's join matches each row once, no two of these writes change the same row, and the
// stock rows are locked already: they go in one statement, with the event when there is one.
const updateStock = () =>
  sql`update ${stockItems} as s set available = s.available + c.available, reserved = s.reserved + c.reserved, sold = s.sold + c.sold, updated_at = ${columnPlaceholder("now", stockItems.updatedAt)}
    from unnest(${sql.placeholder("skus")}::text[], ${sql.placeholder("available")}::int[], ${sql.placeholder("reserved")}::int[], ${sql.placeholder("sold")}::int[]) as c(sku, available, reserved, sold)
    where s.sku = c.sku`;
const updateReservation = (db: Executor) =>
  db
    .update(reservations)
    .set({ status: columnPlaceholder("status", reservations.status), lines: columnPlaceholder("lines", reservations.lines), updatedAt: columnPlaceholder("now", reservations.updatedAt) })
    .where(eq(reservations.orderId, sql.placeholder("orderId")));
const writeWithStock = prepareStatement((db) => sql`with stock as (${updateStock()}) ${updateReservation(db).getSQL()}`);
const writeReservation = prepareStatement((db) => updateReservation(db));
const eventWithStock = prepareEventWrite((db) => [updateStock(), updateReservation(db)]);
const eventWithReservation = prepareEventWrite((db) => [updateReservation(db)]);

/**
 * The order's row, locked: concurrent events of one order queue here. A row this transaction
 * inserts is its own until it commits, so only a row that already existed is read and locked.
 * With `create: false` a missing row stays missing and reads as "none".
 */
async function lockReservation(tx: Tx, orderId: string, create = true): Promise<ReservationState> {
  const [inserted] = create ? await insertReservation.execute(tx, { orderId, now: new Date() }) : [];
  const [row] = inserted !== undefined ? [inserted] : await reservationForUpdate.execute(tx, { orderId });
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
  const rows = await stockForUpdate.execute(tx, { skus });
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
  const next = decision.next;
  const changes = decision.stockChanges;
  const values = {
    orderId,
    now: new Date(),
    status: next.status,
    lines: "lines" in next ? next.lines : [],
    skus: changes.map((change) => change.sku),
    available: changes.map((change) => change.available),
    reserved: changes.map((change) => change.reserved),
    sold: changes.map((change) => change.sold),
  };
  const [first, ...more] = decision.effects;
  if (first === undefined) await (changes.length > 0 ? writeWithStock : writeReservation).execute(tx, values);
  else await (changes.length > 0 ? eventWithStock : eventWithReservation).write(tx, eventOf(orderId, first, extra), values);
  for (const effect of more) await writeEvent(tx, eventOf(orderId, effect, extra));
  return decision;
}

function eventOf(orderId: string, effect: ReservationEffect, extra: { userId?: string; amount?: OrderPlaced["total"] }): EventToWrite<DescMessage> {
  const common = { eventId: randomUUID(), orderId, occurredAt: timestampNow() };
  const aggregate = { aggregateType: AGGREGATE, aggregateId: orderId };
  switch (effect.kind) {
    case "publish-stock-reserved":
      return { ...aggregate, schema: StockReservedSchema, event: create(StockReservedSchema, { ...common, lines: effect.lines, userId: extra.userId ?? "", ...(extra.amount ? { amount: extra.amount } : {}) }) };
    case "publish-stock-rejected":
      return { ...aggregate, schema: StockRejectedSchema, event: create(StockRejectedSchema, { ...common, shortages: effect.shortages }) };
    case "publish-stock-released":
      return { ...aggregate, schema: StockReleasedSchema, event: create(StockReleasedSchema, { ...common, lines: effect.lines }) };
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
