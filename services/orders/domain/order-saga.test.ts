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
});
