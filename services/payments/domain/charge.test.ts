import { describe, expect, it } from "vitest";
import { MAX_TOTAL_MINOR } from "../../money/money.js";
import { decide } from "./charge.js";
import { createPaymentSimulator, TransientProcessorError } from "./payment-simulator.js";

describe("charge decisions", () => {
  it("captures or declines once per order", () => {
    const captured = decide({ status: "none" }, { kind: "stock-reserved", paymentId: "p1", amountMinor: 500n, verdict: { outcome: "capture" } });
    expect(captured).toEqual({
      kind: "transition",
      next: { status: "captured", paymentId: "p1", amountMinor: 500n },
      effects: [{ kind: "publish-payment-captured", paymentId: "p1", amountMinor: 500n }],
    });
    expect(decide({ status: "captured", paymentId: "p1", amountMinor: 500n }, { kind: "stock-reserved", paymentId: "p2", amountMinor: 500n, verdict: { outcome: "capture" } }).kind).toBe("ignore");
    expect(decide({ status: "none" }, { kind: "stock-reserved", paymentId: "p1", amountMinor: 5n, verdict: { outcome: "decline", reason: "no" } })).toMatchObject({
      next: { status: "declined" },
      effects: [{ kind: "publish-payment-declined", reason: "no" }],
    });
  });

  it.each([
    ["a negative amount", -15_000n, "only positive amounts are captured"],
    ["a zero amount", 0n, "only positive amounts are captured"],
    ["an amount over the highest order total", MAX_TOTAL_MINOR + 1n, "over the highest order total"],
  ])("declines %s even when the processor would capture it", (_name, amountMinor, reason) => {
    const decision = decide({ status: "none" }, { kind: "stock-reserved", paymentId: "p1", amountMinor, verdict: { outcome: "capture" } });
    expect(decision).toMatchObject({ kind: "transition", next: { status: "declined", paymentId: "p1" }, effects: [{ kind: "publish-payment-declined", paymentId: "p1" }] });
    expect(decision.kind === "transition" && decision.next.status === "declined" ? decision.next.reason : "").toContain(reason);
  });

  it("captures the smallest and the largest amount the contract allows", () => {
    for (const amountMinor of [1n, MAX_TOTAL_MINOR]) {
      expect(decide({ status: "none" }, { kind: "stock-reserved", paymentId: "p1", amountMinor, verdict: { outcome: "capture" } })).toMatchObject({ next: { status: "captured", amountMinor } });
    }
  });

  it("refunds a capture when the order is cancelled", () => {
    expect(decide({ status: "captured", paymentId: "p1", amountMinor: 500n }, { kind: "order-cancelled" })).toEqual({
      kind: "transition",
      next: { status: "refunded", paymentId: "p1", amountMinor: 500n },
      effects: [{ kind: "publish-payment-refunded", paymentId: "p1", amountMinor: 500n }],
    });
  });

  it("charges nothing when the cancellation arrives before the reservation", () => {
    expect(decide({ status: "none" }, { kind: "order-cancelled" })).toEqual({ kind: "transition", next: { status: "cancelled-before-charge" }, effects: [] });
    expect(decide({ status: "cancelled-before-charge" }, { kind: "stock-reserved", paymentId: "p1", amountMinor: 5n, verdict: { outcome: "capture" } }).kind).toBe("ignore");
  });

  it("does not refund what was never charged", () => {
    expect(decide({ status: "declined", paymentId: "p1", reason: "no" }, { kind: "order-cancelled" }).kind).toBe("ignore");
    expect(decide({ status: "refunded", paymentId: "p1", amountMinor: 1n }, { kind: "order-cancelled" }).kind).toBe("ignore");
  });
});

describe("payment simulator", () => {
  it("declines about the configured share of orders, the same ones every time", async () => {
    const simulator = createPaymentSimulator({ declineRate: 0.2 });
    const orders = Array.from({ length: 2000 }, (_, i) => ({ orderId: `order-${i}`, userId: "u", amountMinor: 100n }));
    const verdicts = await Promise.all(orders.map((order) => simulator.charge(order)));
    const declined = verdicts.filter((v) => v.outcome === "decline").length;
    expect(declined / orders.length).toBeGreaterThan(0.17);
    expect(declined / orders.length).toBeLessThan(0.23);
    const again = await Promise.all(orders.map((order) => createPaymentSimulator({ declineRate: 0.2 }).charge(order)));
    expect(again).toEqual(verdicts);
  });

  it("declines listed users and amounts over the limit", async () => {
    const simulator = createPaymentSimulator({ declinedUsers: ["mallory"], limitMinor: 1000n });
    expect(await simulator.charge({ orderId: "a", userId: "mallory", amountMinor: 1n })).toEqual({ outcome: "decline", reason: "card declined for this customer" });
    expect(await simulator.charge({ orderId: "b", userId: "alice", amountMinor: 1001n })).toEqual({ outcome: "decline", reason: "amount over the card limit" });
    expect(await simulator.charge({ orderId: "c", userId: "alice", amountMinor: 1000n })).toEqual({ outcome: "capture" });
  });

  it("fails transiently at the configured rate and rejects nonsense settings", async () => {
    const simulator = createPaymentSimulator({ transientFailureRate: 1 });
    await expect(simulator.charge({ orderId: "a", userId: "u", amountMinor: 1n })).rejects.toBeInstanceOf(TransientProcessorError);
    expect(() => createPaymentSimulator({ declineRate: 1.5 })).toThrow("declineRate must be between 0 and 1, got 1.5");
  });
});
