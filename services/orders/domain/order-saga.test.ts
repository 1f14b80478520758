import { describe, expect, it } from "vitest";
import { decide, type OrderSagaState } from "./order-saga.js";

const deadline = new Date("2026-11-27T10:00:30Z");
const pending: OrderSagaState = { status: "pending", stockReserved: false, deadline };

describe("order saga decisions", () => {
  it("confirms on payment captured and publishes OrderConfirmed", () => {
    expect(decide(pending, { kind: "payment-captured", paymentId: "p1" })).toEqual({
      kind: "transition",
      next: { status: "confirmed", paymentId: "p1" },
      effects: [{ kind: "publish-order-confirmed", paymentId: "p1" }],
    });
  });

  it.each([
    ["stock-rejected", "out-of-stock"],
    ["payment-declined", "payment-declined"],
    ["cancel-requested", "customer-requested"],
  ] as const)("cancels on %s with cause %s", (kind, cause) => {
    expect(decide(pending, { kind })).toEqual({
      kind: "transition",
      next: { status: "cancelled", cause },
      effects: [{ kind: "publish-order-cancelled", cause }],
    });
  });

  it("records a reservation without publishing anything, once", () => {
    const first = decide(pending, { kind: "stock-reserved" });
    expect(first).toEqual({ kind: "transition", next: { ...pending, stockReserved: true }, effects: [] });
    expect(decide({ ...pending, stockReserved: true }, { kind: "stock-reserved" }).kind).toBe("ignore");
  });

  it("cancels at the deadline and not before", () => {
    expect(decide(pending, { kind: "deadline-passed", now: new Date(deadline.getTime() - 1) }).kind).toBe("ignore");
    expect(decide(pending, { kind: "deadline-passed", now: deadline })).toMatchObject({
      kind: "transition",
      next: { status: "cancelled", cause: "deadline-exceeded" },
    });
  });

  it("ignores every saga event after a terminal state, so late events change nothing", () => {
    const terminal: OrderSagaState[] = [
      { status: "confirmed", paymentId: "p1" },
      { status: "cancelled", cause: "deadline-exceeded" },
    ];
    for (const state of terminal) {
      expect(decide(state, { kind: "payment-captured", paymentId: "p2" }).kind).toBe("ignore");
      expect(decide(state, { kind: "stock-rejected" }).kind).toBe("ignore");
      expect(decide(state, { kind: "deadline-passed", now: new Date(deadline.getTime() + 60_000) }).kind).toBe("ignore");
    }
  });

  it("refuses a customer cancellation of a terminal order", () => {
    expect(decide({ status: "confirmed", paymentId: "p1" }, { kind: "cancel-requested" })).toEqual({
      kind: "reject",
      why: "order is already confirmed; only pending orders can be cancelled",
    });
  });

  describe("over sharded inventory", () => {
    const sharded: OrderSagaState = { status: "pending", stockReserved: false, deadline, awaitingShards: ["inventory-0", "inventory-1"] };

    it("confirms only once every shard of the order has reserved and the payment is captured", () => {
      const first = decide(sharded, { kind: "stock-reserved", shard: "inventory-1" });
      expect(first).toEqual({ kind: "transition", next: { ...sharded, awaitingShards: ["inventory-0"] }, effects: [] });
      if (first.kind !== "transition") throw new Error("expected a transition");
      // Payments charges on the first shard's reservation: the capture waits for the other shard.
      const captured = decide(first.next, { kind: "payment-captured", paymentId: "p1" });
      expect(captured).toEqual({ kind: "transition", next: { ...sharded, awaitingShards: ["inventory-0"], paymentId: "p1" }, effects: [] });
      if (captured.kind !== "transition") throw new Error("expected a transition");
      expect(decide(captured.next, { kind: "stock-reserved", shard: "inventory-0" })).toEqual({
        kind: "transition",
        next: { status: "confirmed", paymentId: "p1" },
        effects: [{ kind: "publish-order-confirmed", paymentId: "p1" }],
      });
    });

    it("confirms on the capture when every shard reserved before it", () => {
      const reserved = { ...sharded, awaitingShards: [], stockReserved: true };
      expect(decide(reserved, { kind: "payment-captured", paymentId: "p2" })).toMatchObject({ next: { status: "confirmed", paymentId: "p2" } });
    });

    it("ignores a shard that already answered or that the order does not touch", () => {
      const one = { ...sharded, awaitingShards: ["inventory-0"] };
      expect(decide(one, { kind: "stock-reserved", shard: "inventory-1" }).kind).toBe("ignore");
      expect(decide(one, { kind: "stock-reserved", shard: "inventory-7" }).kind).toBe("ignore");
      expect(decide({ ...one, paymentId: "p1" }, { kind: "payment-captured", paymentId: "p1" }).kind).toBe("ignore");
    });

    it("cancels on one shard's rejection, whatever the others answered, so the cancellation releases theirs", () => {
      const partly = { ...sharded, awaitingShards: ["inventory-0"], paymentId: "p1" };
      expect(decide(partly, { kind: "stock-rejected" })).toEqual({
        kind: "transition",
        next: { status: "cancelled", cause: "out-of-stock" },
        effects: [{ kind: "publish-order-cancelled", cause: "out-of-stock" }],
      });
    });
  });
});
