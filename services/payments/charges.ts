// Payments' saga handlers and reads. Each handler runs inside the consumer's transaction,
// locks the order's charge row, applies the domain decision and writes the resulting events
// to the outbox together with the ledger entries.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate, timestampNow } from "@bufbuild/protobuf/wkt";
import { randomUUID } from "node:crypto";
import type { DescMessage } from "@bufbuild/protobuf";
import { asc, eq, isNotNull, and, sql } from "drizzle-orm";
import { NotFoundError } from "@protomesh/server";
import { columnPlaceholder, type Db, type Executor, prepareStatement, type Tx } from "@protomesh/data";
import { type EventToWrite, prepareEventWrite, writeEvent } from "@protomesh/messaging";
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

// Every saga step runs these: each is built once, values go in as placeholders (docs/adr/0143).
const insertCharge = prepareStatement((db) =>
  db
    .insert(charges)
    .values({ orderId: sql.placeholder("orderId"), status: "none", createdAt: sql.placeholder("now"), updatedAt: sql.placeholder("now") })
    .onConflictDoNothing()
    .returning(),
);
const chargeForUpdate = prepareStatement((db) => db.select().from(charges).where(eq(charges.orderId, sql.placeholder("orderId"))).for("update"));

// A column given as null keeps its value: a transition sets only what it knows.
const updateCharge = (db: Executor) =>
  db
    .update(charges)
    .set({
      status: sql`${sql.placeholder("status")}`,
      updatedAt: columnPlaceholder("now", charges.updatedAt),
      paymentId: sql`coalesce(${sql.placeholder("paymentId")}::uuid, ${charges.paymentId})`,
      currencyCode: sql`coalesce(${sql.placeholder("currencyCode")}::text, ${charges.currencyCode})`,
      amountMinor: sql`coalesce(${sql.placeholder("amountMinor")}::bigint, ${charges.amountMinor})`,
      declineReason: sql`coalesce(${sql.placeholder("declineReason")}::text, ${charges.declineReason})`,
      userId: sql`coalesce(${sql.placeholder("userId")}::text, ${charges.userId})`,
    })
    .where(eq(charges.orderId, sql.placeholder("orderId")));
const insertLedgerEntry = (db: Executor) =>
  db.insert(ledgerEntries).values({
    paymentId: sql.placeholder("ledgerPaymentId"),
    orderId: sql.placeholder("orderId"),
    kind: sql.placeholder("ledgerKind"),
    amountMinor: sql.placeholder("ledgerAmountMinor"),
    currencyCode: sql.placeholder("ledgerCurrencyCode"),
    createdAt: sql.placeholder("now"),
  });
// The charge's update, its ledger entry and its event change different rows, so they go to
// PostgreSQL as one statement (see writeEvent's `alongside`).
const writeCharge = prepareStatement((db) => updateCharge(db));
const eventWithCharge = prepareEventWrite((db) => [updateCharge(db)]);
const eventWithChargeAndLedger = prepareEventWrite((db) => [updateCharge(db), insertLedgerEntry(db)]);
const eventWithLedger = prepareEventWrite((db) => [insertLedgerEntry(db)]);

/**
 * The order's charge row, locked: concurrent events of one order queue here. A row this
 * transaction inserts is its own until it commits, so only a row that already existed is read and locked.
 */
async function lockCharge(tx: Tx, orderId: string): Promise<ChargeRow> {
  const [inserted] = await insertCharge.execute(tx, { orderId, now: new Date() });
  if (inserted !== undefined) return inserted;
  const [row] = await chargeForUpdate.execute(tx, { orderId });
  if (row === undefined) throw new Error(`charge row for order ${orderId} vanished inside its transaction`);
  return row;
}

function eventOf(orderId: string, effect: ChargeEffect, currencyCode: string): EventToWrite<DescMessage> {
  const common = { eventId: randomUUID(), orderId, occurredAt: timestampNow(), paymentId: effect.paymentId };
  const aggregate = { aggregateType: AGGREGATE, aggregateId: orderId };
  switch (effect.kind) {
    case "publish-payment-captured":
      return { ...aggregate, schema: PaymentCapturedSchema, event: create(PaymentCapturedSchema, { ...common, amount: { currencyCode, amountMinor: effect.amountMinor } }) };
    case "publish-payment-declined":
      return { ...aggregate, schema: PaymentDeclinedSchema, event: create(PaymentDeclinedSchema, { ...common, reason: effect.reason }) };
    case "publish-payment-refunded":
      return { ...aggregate, schema: PaymentRefundedSchema, event: create(PaymentRefundedSchema, { ...common, amount: { currencyCode, amountMinor: effect.amountMinor } }) };
  }
}

/** The ledger entry a captured or refunded payment adds (a refund negative); none for a decline. */
function ledgerEntryOf(effect: ChargeEffect, currencyCode: string) {
  switch (effect.kind) {
    case "publish-payment-captured":
      return { ledgerPaymentId: effect.paymentId, ledgerKind: "capture", ledgerAmountMinor: effect.amountMinor, ledgerCurrencyCode: currencyCode };
    case "publish-payment-refunded":
      return { ledgerPaymentId: effect.paymentId, ledgerKind: "refund", ledgerAmountMinor: -effect.amountMinor, ledgerCurrencyCode: currencyCode };
    case "publish-payment-declined":
      return undefined;
  }
}

async function apply(tx: Tx, orderId: string, input: (state: ChargeState, row: ChargeRow) => Promise<ChargeInput>, charge: { userId?: string; currencyCode?: string; amountMinor?: bigint } = {}) {
  const row = await lockCharge(tx, orderId);
  const decision = decide(stateOf(row), await input(stateOf(row), row));
  if (decision.kind === "ignore") return decision;
  const next = decision.next;
  const currencyCode = row.currencyCode ?? charge.currencyCode ?? "";
  const paid = "paymentId" in next;
  const values = {
    orderId,
    now: new Date(),
    status: next.status,
    paymentId: paid ? next.paymentId : null,
    currencyCode: paid ? currencyCode : null,
    // A declined payment keeps the amount that was asked for.
    amountMinor: paid ? String("amountMinor" in next ? next.amountMinor : (charge.amountMinor ?? row.amountMinor ?? 0n)) : null,
    declineReason: next.status === "declined" ? next.reason : null,
    userId: charge.userId ?? null,
  };
  const [first, ...more] = decision.effects;
  if (first === undefined) {
    await writeCharge.execute(tx, values);
    return decision;
  }
  const firstEntry = ledgerEntryOf(first, currencyCode);
  await (firstEntry === undefined ? eventWithCharge : eventWithChargeAndLedger).write(tx, eventOf(orderId, first, currencyCode), { ...values, ...firstEntry });
  for (const effect of more) {
    const entry = ledgerEntryOf(effect, currencyCode);
    const event = eventOf(orderId, effect, currencyCode);
    await (entry === undefined ? writeEvent(tx, event) : eventWithLedger.write(tx, event, { ...values, ...entry }));
  }
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
