import { create } from "@bufbuild/protobuf";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StockReservedSchema } from "protomesh/gen/shop/inventory/v1/events_pb";
import { OrderCancelledSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { PaymentStatus } from "protomesh/gen/shop/payments/v1/payments_pb";
import { runTransaction, type Database } from "@protomesh/data";
import { createChargeHandlers, createPaymentReads } from "../../services/payments/charges.js";
import { createPaymentSimulator, TransientProcessorError } from "../../services/payments/domain/payment-simulator.js";
import { ledgerEntries, outbox } from "../../services/payments/schema.js";
import { backends, openServiceDatabase } from "./backends.js";

const reserved = (orderId: string, userId = "alice", amountMinor = 2500n) =>
  create(StockReservedSchema, { orderId, userId, amount: { currencyCode: "EUR", amountMinor } });

describe.each(backends)("payments store on %s", (backend) => {
  let database: Database;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ database, close } = await openServiceDatabase(backend, "payments"));
  });
  afterAll(() => close());

  const ledgerSum = async (orderId: string) =>
    (await database.db.select({ sum: sql<string>`coalesce(sum(${ledgerEntries.amountMinor}), 0)::text` }).from(ledgerEntries).where(eq(ledgerEntries.orderId, orderId)))[0]?.sum;

  it("captures, refunds on cancellation, and records both in the ledger and the outbox", async () => {
    const handlers = createChargeHandlers(createPaymentSimulator());
    const reads = createPaymentReads(database.db);
    await runTransaction(database.db, (tx) => handlers.stockReserved(tx, reserved("pay-o1")));
    expect(await ledgerSum("pay-o1")).toBe("2500");
    const [payment] = await reads.listPaymentsForOrder("pay-o1");
    expect(payment).toMatchObject({ status: PaymentStatus.CAPTURED, amount: { amountMinor: 2500n }, userId: "alice" });
    expect(await reads.getPayment(payment?.paymentId ?? "")).toMatchObject({ orderId: "pay-o1" });

    await runTransaction(database.db, (tx) => handlers.orderCancelled(tx, create(OrderCancelledSchema, { orderId: "pay-o1" })));
    expect(await ledgerSum("pay-o1")).toBe("0");
    expect((await reads.listPaymentsForOrder("pay-o1"))[0]?.status).toBe(PaymentStatus.REFUNDED);
    const types = (await database.db.select().from(outbox).where(eq(outbox.aggregateId, "pay-o1"))).map((e) => e.eventType);
    expect(types).toEqual(["shop.payments.v1.PaymentCaptured", "shop.payments.v1.PaymentRefunded"]);
  });

  it("declines without charging, and charges nothing for an order cancelled first", async () => {
    const handlers = createChargeHandlers(createPaymentSimulator({ declinedUsers: ["mallory"] }));
    await runTransaction(database.db, (tx) => handlers.stockReserved(tx, reserved("pay-o2", "mallory")));
    expect(await ledgerSum("pay-o2")).toBe("0");
    expect((await createPaymentReads(database.db).listPaymentsForOrder("pay-o2"))[0]).toMatchObject({ status: PaymentStatus.DECLINED, declineReason: "card declined for this customer" });

    await runTransaction(database.db, (tx) => handlers.orderCancelled(tx, create(OrderCancelledSchema, { orderId: "pay-o3" })));
    await runTransaction(database.db, (tx) => handlers.stockReserved(tx, reserved("pay-o3")));
    expect(await ledgerSum("pay-o3")).toBe("0");
    expect(await createPaymentReads(database.db).listPaymentsForOrder("pay-o3")).toEqual([]);
  });

  it.each([
    ["a negative amount", "pay-neg", -15_000n],
    ["a zero amount", "pay-zero", 0n],
  ])("declines %s with a reason and captures nothing, without asking the processor", async (_name, orderId, amountMinor) => {
    const processor = createPaymentSimulator();
    const asked: bigint[] = [];
    const handlers = createChargeHandlers({ charge: (request) => (asked.push(request.amountMinor), processor.charge(request)) });
    await runTransaction(database.db, (tx) => handlers.stockReserved(tx, reserved(orderId, "alice", amountMinor)));
    expect(await ledgerSum(orderId)).toBe("0");
    const [payment] = await createPaymentReads(database.db).listPaymentsForOrder(orderId);
    expect(payment?.status).toBe(PaymentStatus.DECLINED);
    expect(payment?.declineReason).toContain(String(amountMinor));
    const types = (await database.db.select().from(outbox).where(eq(outbox.aggregateId, orderId))).map((e) => e.eventType);
    expect(types).toEqual(["shop.payments.v1.PaymentDeclined"]);
    expect(asked).toEqual([]);
  });

  it("rolls back everything when the processor fails transiently", async () => {
    const handlers = createChargeHandlers(createPaymentSimulator({ transientFailureRate: 1 }));
    await expect(runTransaction(database.db, (tx) => handlers.stockReserved(tx, reserved("pay-o4")))).rejects.toBeInstanceOf(TransientProcessorError);
    expect(await ledgerSum("pay-o4")).toBe("0");
    expect((await database.db.select().from(outbox).where(eq(outbox.aggregateId, "pay-o4")))).toEqual([]);
    await expect(createPaymentReads(database.db).getPayment("5b0a2f41-0c8e-4f5e-9a7c-1d2e3f4a5b6c")).rejects.toThrow("no payment with id");
  });
});
