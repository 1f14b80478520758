// Payments' saga handlers and reads. Each handler runs inside the consumer's transaction,
// locks the order's charge row, applies the domain decision and writes the resulting events
// to the outbox together with the ledger entries.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate, timestampNow } from "@bufbuild/protobuf/wkt";
import { randomUUID } from "node:crypto";
import { asc, eq, isNotNull, and, type SQLWrapper } from "drizzle-orm";
import { NotFoundError } from "@protomesh/server";
import type { Db, Tx } from "@protomesh/data";
import { writeEvent } from "@protomesh/messaging";
import type { OrderCancelled } from "protomesh/gen/shop/orders/v1/events_pb";
import type { StockReserved } from "protomesh/gen/shop/inventory/v1/events_pb";
import { PaymentCapturedSchema, PaymentDeclinedSchema, PaymentRefundedSchema } from "protomesh/gen/shop/payments/v1/events_pb";
import { PaymentSchema, PaymentStatus, type Payment } from "protomesh/gen/shop/payments/v1/payments_pb";
import { decide, uncapturable, type ChargeEffect, type ChargeInput, type ChargeState } from "./domain/charge.js";
import type { PaymentSimulator } from "./domain/payment-simulator.js";
import { charges, ledgerEntries } from "./schema.js";

const AGGREGATE = "order";
type ChargeRow = typeof charges.$inferSelect;

function stateOf(row: ChargeRow): ChargeState {
  switch (row.status) {
    case "none":
    case "cancelled-before-charge":
      return { status: row.status };
    case "captured":
    case "refunded":
      return { status: row.status, paymentId: row.paymentId ?? "", amountMinor: row.amountMinor ?? 0n };
    case "declined":
      return { status: "declined", paymentId: row.paymentId ?? "", reason: row.declineReason ?? "" };
    default:
      throw new Error(`unknown charge status ${row.status} for order ${row.orderId}`);
  }
}

/**
 * The order's charge row, locked: concurrent events of one order queue here. A row this
 * transaction inserts is its own until it commits, so only a row that already existed is read and locked.
 */
async function lockCharge(tx: Tx, orderId: string): Promise<ChargeRow> {
  const now = new Date();
  const [inserted] = await tx.insert(charges).values({ orderId, status: "none", createdAt: now, updatedAt: now }).onConflictDoNothing().returning();
  if (inserted !== undefined) return inserted;
  const [row] = await tx.select().from(charges).where(eq(charges.orderId, orderId)).for("update");
  if (row === undefined) throw new Error(`charge row for order ${orderId} vanished inside its transaction`);
  return row;
}

async function publish(tx: Tx, row: ChargeRow, effect: ChargeEffect, currencyCode: string, alongside: readonly SQLWrapper[]) {
  const common = { eventId: randomUUID(), orderId: row.orderId, occurredAt: timestampNow(), paymentId: effect.paymentId };
  const event = { aggregateType: AGGREGATE, aggregateId: row.orderId };
  const options = { alongside };
  switch (effect.kind) {
    case "publish-payment-captured":
      await writeEvent(tx, { ...event, schema: PaymentCapturedSchema, event: create(PaymentCapturedSchema, { ...common, amount: { currencyCode, amountMinor: effect.amountMinor } }) }, options);
      return;
    case "publish-payment-declined":
      await writeEvent(tx, { ...event, schema: PaymentDeclinedSchema, event: create(PaymentDeclinedSchema, { ...common, reason: effect.reason }) }, options);
      return;
    case "publish-payment-refunded":
      await writeEvent(tx, { ...event, schema: PaymentRefundedSchema, event: create(PaymentRefundedSchema, { ...common, amount: { currencyCode, amountMinor: effect.amountMinor } }) }, options);
      return;
  }
}

async function apply(tx: Tx, orderId: string, input: (state: ChargeState, row: ChargeRow) => Promise<ChargeInput>, charge: { userId?: string; currencyCode?: string; amountMinor?: bigint } = {}) {
  const row = await lockCharge(tx, orderId);
  const decision = decide(stateOf(row), await input(stateOf(row), row));
  if (decision.kind === "ignore") return decision;
  const now = new Date();
  const next = decision.next;
  const currencyCode = row.currencyCode ?? charge.currencyCode ?? "";
  // The charge's update, its ledger entry and its event change different rows, so they go to
  // PostgreSQL as one statement (see writeEvent's `alongside`).
  let writes: SQLWrapper[] = [
    tx
      .update(charges)
      .set({
        status: next.status,
        updatedAt: now,
        // A declined payment keeps the amount that was asked for.
        ...("paymentId" in next ? { paymentId: next.paymentId, currencyCode, amountMinor: "amountMinor" in next ? next.amountMinor : (charge.amountMinor ?? row.amountMinor ?? 0n) } : {}),
        ...(next.status === "declined" ? { declineReason: next.reason } : {}),
        ...(charge.userId !== undefined ? { userId: charge.userId } : {}),
      })
      .where(eq(charges.orderId, orderId)),
  ];
  for (const effect of decision.effects) {
    if (effect.kind === "publish-payment-captured" || effect.kind === "publish-payment-refunded") {
      const signed = effect.kind === "publish-payment-captured" ? effect.amountMinor : -effect.amountMinor;
      writes.push(
        tx.insert(ledgerEntries).values({
          paymentId: effect.paymentId,
          orderId,
          kind: effect.kind === "publish-payment-captured" ? "capture" : "refund",
          amountMinor: signed,
          currencyCode,
          createdAt: now,
        }),
      );
    }
    await publish(tx, { ...row, currencyCode }, effect, currencyCode, writes);
    writes = [];
  }
  const [update] = writes;
  if (update !== undefined) await tx.execute(update.getSQL());
  return decision;
}

export function createChargeHandlers(simulator: PaymentSimulator) {
  return {
    /**
     * Charges the reserved order. The simulator runs inside the transaction so its verdict and
     * the charge row commit together; a transient processor failure rolls back and redelivers.
     */
    async stockReserved(tx: Tx, event: StockReserved) {
      const amount = event.amount;
      return apply(
        tx,
        event.orderId,
        async (state) => {
          const amountMinor = amount?.amountMinor ?? 0n;
          // Only ask the processor when this event can lead to a charge; decide() declines the rest.
          const chargeable = state.status === "none" && uncapturable(amountMinor) === undefined;
          const verdict = chargeable ? await simulator.charge({ orderId: event.orderId, userId: event.userId, amountMinor }) : { outcome: "capture" as const };
          return { kind: "stock-reserved", paymentId: randomUUID(), amountMinor, verdict };
        },
        { userId: event.userId, currencyCode: amount?.currencyCode ?? "", amountMinor: amount?.amountMinor ?? 0n },
      );
    },

    async orderCancelled(tx: Tx, event: OrderCancelled) {
      return apply(tx, event.orderId, async () => ({ kind: "order-cancelled" }));
    },
  };
}

const paymentStatus: Record<string, PaymentStatus> = {
  captured: PaymentStatus.CAPTURED,
  declined: PaymentStatus.DECLINED,
  refunded: PaymentStatus.REFUNDED,
};

function toPayment(row: ChargeRow): Payment {
  return create(PaymentSchema, {
    paymentId: row.paymentId ?? "",
    orderId: row.orderId,
    userId: row.userId ?? "",
    amount: { currencyCode: row.currencyCode ?? "", amountMinor: row.amountMinor ?? 0n },
    status: paymentStatus[row.status] ?? PaymentStatus.UNSPECIFIED,
    declineReason: row.declineReason ?? "",
    createdAt: timestampFromDate(row.createdAt),
    updatedAt: timestampFromDate(row.updatedAt),
  });
}

export function createPaymentReads(db: Db) {
  return {
    async getPayment(paymentId: string): Promise<Payment> {
      const [row] = await db.select().from(charges).where(eq(charges.paymentId, paymentId));
      if (row === undefined) throw new NotFoundError(`no payment with id ${paymentId}`);
      return toPayment(row);
    },
    async listPaymentsForOrder(orderId: string): Promise<Payment[]> {
      const rows = await db
        .select()
        .from(charges)
        .where(and(eq(charges.orderId, orderId), isNotNull(charges.paymentId)))
        .orderBy(asc(charges.createdAt));
      return rows.map(toPayment);
    },
  };
}
