// Orders' side of the saga with I/O: loads an order under a row lock, applies the pure
// decision (domain/order-saga.ts), stores the new state, writes the events it asks for to the
// outbox and notifies watchers, all in the caller's transaction. Also the tracker that cancels
// orders whose saga outlived its deadline.
import { create, type DescMessage } from "@bufbuild/protobuf";
import { timestampFromDate, timestampNow } from "@bufbuild/protobuf/wkt";
import { randomUUID } from "node:crypto";
import { and, asc, eq, lte, sql } from "drizzle-orm";
import { shardOf } from "@protomesh/clients";
import { columnPlaceholder, type Db, type Executor, prepareStatement, runTransaction, type Tx } from "@protomesh/data";
import { type EventToWrite, prepareEventWrite, writeEvent } from "@protomesh/messaging";
import type { StockRejected, StockReserved } from "protomesh/gen/shop/inventory/v1/events_pb";
import { OrderCancelledSchema, OrderConfirmedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { CancellationReason, type Order, OrderSchema, OrderStatus } from "protomesh/gen/shop/orders/v1/orders_pb";
import type { PaymentCaptured, PaymentDeclined } from "protomesh/gen/shop/payments/v1/events_pb";
import { decide, type CancellationCause, type OrderSagaDecision, type OrderSagaEffect, type OrderSagaInput, type OrderSagaState } from "./domain/order-saga.js";
import { type orderLines, orders } from "./schema.js";

/** NOTIFY channel carrying the id of an order whose status changed; WatchOrder listens to it. */
export const ORDER_CHANGED_CHANNEL = "orders_order_changed";

type OrderRow = typeof orders.$inferSelect;
type LineRow = Pick<typeof orderLines.$inferSelect, "sku" | "quantity" | "unitPriceMinor">;

const statusToProto: Record<string, OrderStatus> = {
  pending: OrderStatus.PENDING,
  confirmed: OrderStatus.CONFIRMED,
  cancelled: OrderStatus.CANCELLED,
};

const causeToProto: Record<CancellationCause, CancellationReason> = {
  "out-of-stock": CancellationReason.OUT_OF_STOCK,
  "payment-declined": CancellationReason.PAYMENT_DECLINED,
  "customer-requested": CancellationReason.CUSTOMER_REQUESTED,
  "deadline-exceeded": CancellationReason.DEADLINE_EXCEEDED,
};

export function toOrderMessage(row: OrderRow, lines: readonly LineRow[]): Order {
  const cause = row.cancellationCause as CancellationCause | null;
  return create(OrderSchema, {
    orderId: row.orderId,
    userId: row.userId,
    status: statusToProto[row.status] ?? OrderStatus.UNSPECIFIED,
    lines: lines.map((line) => ({ sku: line.sku, quantity: line.quantity, unitPrice: { currencyCode: row.currencyCode, amountMinor: line.unitPriceMinor } })),
    total: { currencyCode: row.currencyCode, amountMinor: row.totalMinor },
    cancellationReason: cause === null ? CancellationReason.UNSPECIFIED : causeToProto[cause],
    createdAt: timestampFromDate(row.createdAt),
    updatedAt: timestampFromDate(row.updatedAt),
    paymentId: row.paymentId ?? "",
  });
}

function stateOf(row: OrderRow): OrderSagaState {
  switch (row.status) {
    case "pending":
      return {
        status: "pending",
        stockReserved: row.stockReserved,
        deadline: row.deadline,
        ...(row.stockAwaiting === null ? {} : { awaitingShards: row.stockAwaiting }),
        ...(row.paymentId === null ? {} : { paymentId: row.paymentId }),
      };
    case "confirmed":
      return { status: "confirmed", paymentId: row.paymentId ?? "" };
    case "cancelled":
      return { status: "cancelled", cause: (row.cancellationCause ?? "deadline-exceeded") as CancellationCause };
    default:
      throw new Error(`unknown order status ${row.status} for order ${row.orderId}`);
  }
}

function eventOf(orderId: string, effect: OrderSagaEffect): EventToWrite<DescMessage> {
  const common = { eventId: randomUUID(), orderId, occurredAt: timestampNow() };
  const aggregate = { aggregateType: "order", aggregateId: orderId };
  return effect.kind === "publish-order-confirmed"
    ? { ...aggregate, schema: OrderConfirmedSchema, event: create(OrderConfirmedSchema, { ...common, paymentId: effect.paymentId }) }
    : { ...aggregate, schema: OrderCancelledSchema, event: create(OrderCancelledSchema, { ...common, reason: causeToProto[effect.cause] }) };
}

// Every saga step runs these: each is built once, values go in as placeholders (docs/adr/0143).
const orderForUpdate = prepareStatement((db) => db.select().from(orders).where(eq(orders.orderId, sql.placeholder("orderId"))).for("update"));
// Every column a transition may change is set, to its old value when it does not change.
const updateOrder = (db: Executor) =>
  db
    .update(orders)
    .set({
      status: sql`${sql.placeholder("status")}`,
      stockReserved: sql`${sql.placeholder("stockReserved")}`,
      // As text, so null stays SQL null rather than JSON null.
      stockAwaiting: sql`${sql.placeholder("stockAwaiting")}::text::jsonb`,
      paymentId: sql`${sql.placeholder("paymentId")}`,
      cancellationCause: sql`${sql.placeholder("cancellationCause")}`,
      updatedAt: columnPlaceholder("now", orders.updatedAt),
    })
    .where(eq(orders.orderId, sql.placeholder("orderId")));
// The watchers' notification rides on the update's RETURNING: it runs when the update does, read or not.
const updateOrderAndNotify = (db: Executor) => updateOrder(db).returning({ notified: sql`pg_notify(${ORDER_CHANGED_CHANNEL}, ${sql.placeholder("orderId")})` });
const writeOrder = prepareStatement((db) => updateOrder(db));
const writeOrderAndNotify = prepareStatement((db) => updateOrderAndNotify(db));
const eventWithOrder = prepareEventWrite((db) => [updateOrder(db)]);
const eventWithOrderAndNotify = prepareEventWrite((db) => [updateOrderAndNotify(db)]);

/**
 * Applies one saga input to an order inside `tx`. Returns undefined when the order does not
 * exist, else the decision and the row as stored afterwards.
 */
export async function applySagaInput(tx: Tx, orderId: string, input: OrderSagaInput): Promise<{ decision: OrderSagaDecision; row: OrderRow } | undefined> {
  const [row] = await orderForUpdate.execute(tx, { orderId });
  if (row === undefined) return undefined;
  const decision = decide(stateOf(row), input);
  if (decision.kind !== "transition") return { decision, row };
  const next = decision.next;
  const changes = {
    status: next.status,
    stockReserved: next.status === "pending" ? next.stockReserved : row.stockReserved,
    stockAwaiting: next.status === "pending" && next.awaitingShards !== undefined ? [...next.awaitingShards] : row.stockAwaiting,
    // A capture that a sharded order received while shards were still awaited is kept, also if it is cancelled (and refunded).
    paymentId: next.status === "confirmed" ? next.paymentId : next.status === "pending" && next.paymentId !== undefined ? next.paymentId : row.paymentId,
    cancellationCause: next.status === "cancelled" ? next.cause : null,
    updatedAt: new Date(),
  } satisfies Partial<OrderRow>;
  const values = { ...changes, orderId, now: changes.updatedAt, stockAwaiting: changes.stockAwaiting === null ? null : JSON.stringify(changes.stockAwaiting) };
  // The update, the event and the watchers' notification go to PostgreSQL as one statement (the
  // event on writeEvent's `alongside`); watchers hear of a change of status only.
  const notify = next.status !== row.status;
  const [first, ...more] = decision.effects;
  if (first === undefined) await (notify ? writeOrderAndNotify : writeOrder).execute(tx, values);
  else await (notify ? eventWithOrderAndNotify : eventWithOrder).write(tx, eventOf(orderId, first), values);
  for (const effect of more) await writeEvent(tx, eventOf(orderId, effect));
  return { decision, row: { ...row, ...changes } };
}

/**
 * Events that name an order this service never stored are dropped: they cannot belong to a
 * saga it started (orders are stored before OrderPlaced is published).
 */
async function applyEvent(tx: Tx, orderId: string, input: OrderSagaInput) {
  const result = await applySagaInput(tx, orderId, input);
  return result?.decision ?? { kind: "ignore" as const, why: `unknown order ${orderId}` };
}

/**
 * Orders' saga handlers. With `inventoryShards` (sharded inventory, ADR 0105) a reservation counts
 * for the shard that owns its SKUs, as `shardOf` names it.
 */
export function createSagaHandlers(inventoryShards?: readonly string[]) {
  const shardOfReservation = (event: StockReserved) => {
    if (inventoryShards === undefined) return {};
    const [shard, ...others] = new Set(event.lines.map((line) => shardOf(line.sku, inventoryShards) as string));
    if (shard === undefined || others.length > 0) {
      throw new Error(`StockReserved of order ${event.orderId} names SKUs of ${others.length + (shard === undefined ? 0 : 1)} shards; each shard reserves its own, so it must name one`);
    }
    return { shard };
  };
  return {
    stockReserved: (tx: Tx, event: StockReserved) => applyEvent(tx, event.orderId, { kind: "stock-reserved", ...shardOfReservation(event) }),
    stockRejected: (tx: Tx, event: StockRejected) => applyEvent(tx, event.orderId, { kind: "stock-rejected" }),
    paymentCaptured: (tx: Tx, event: PaymentCaptured) => applyEvent(tx, event.orderId, { kind: "payment-captured", paymentId: event.paymentId }),
    paymentDeclined: (tx: Tx, event: PaymentDeclined) => applyEvent(tx, event.orderId, { kind: "payment-declined" }),
  };
}

export type SagaHandlers = ReturnType<typeof createSagaHandlers>;

/** The handlers over unsharded inventory. */
export const sagaHandlers = createSagaHandlers();

/** Cancels pending orders past their deadline (see `cancelExpiredSagas`); returns how many. */
export async function sweepExpiredSagas(db: Db, now = new Date(), batchSize = 100): Promise<number> {
  return (await cancelExpiredSagas(db, now, batchSize)).length;
}

/**
 * Cancels pending orders past their deadline, a batch per transaction. SKIP LOCKED lets every
 * replica sweep at once without waiting on each other or on an order a handler holds.
 * Returns the ids of the orders it cancelled, once committed.
 */
export async function cancelExpiredSagas(db: Db, now = new Date(), batchSize = 100): Promise<string[]> {
  return runTransaction(db, async (tx) => {
    const due = await tx
      .select({ orderId: orders.orderId })
      .from(orders)
      .where(and(eq(orders.status, "pending"), lte(orders.deadline, now)))
      .orderBy(asc(orders.deadline))
      .limit(batchSize)
      .for("update", { skipLocked: true });
    const cancelled: string[] = [];
    for (const { orderId } of due) {
      const result = await applySagaInput(tx, orderId, { kind: "deadline-passed", now });
      if (result?.decision.kind === "transition") cancelled.push(orderId);
    }
    return cancelled;
  });
}
