// The payments side of the order saga as a pure state machine over one order's charge. The
// simulator (payment-simulator.ts) stands in for a card processor and decides capture or
// decline; this module decides what the saga events mean for the order's money.

export type ChargeState =
  /** Nothing known about the order yet. */
  | { status: "none" }
  /** The amount was charged. */
  | { status: "captured"; paymentId: string; amountMinor: bigint }
  /** The processor refused; nothing was charged. Terminal. */
  | { status: "declined"; paymentId: string; reason: string }
  /** Charged, then given back after the order was cancelled. Terminal. */
  | { status: "refunded"; paymentId: string; amountMinor: bigint }
  /** OrderCancelled arrived before the charge was asked for: a late StockReserved charges nothing. Terminal. */
  | { status: "cancelled-before-charge" };

export type ProcessorVerdict = { outcome: "capture" } | { outcome: "decline"; reason: string };

export type ChargeInput =
  | { kind: "stock-reserved"; paymentId: string; amountMinor: bigint; verdict: ProcessorVerdict }
  | { kind: "order-cancelled" };

export type ChargeEffect =
  | { kind: "publish-payment-captured"; paymentId: string; amountMinor: bigint }
  | { kind: "publish-payment-declined"; paymentId: string; reason: string }
  | { kind: "publish-payment-refunded"; paymentId: string; amountMinor: bigint };

export type ChargeDecision =
  | { kind: "transition"; next: ChargeState; effects: ChargeEffect[] }
  | { kind: "ignore"; why: string };

export function decide(state: ChargeState, input: ChargeInput): ChargeDecision {
  switch (input.kind) {
    case "stock-reserved": {
      if (state.status !== "none") return { kind: "ignore", why: `charge is already ${state.status}` };
      const { paymentId, amountMinor, verdict } = input;
      if (verdict.outcome === "decline") {
        return {
          kind: "transition",
          next: { status: "declined", paymentId, reason: verdict.reason },
          effects: [{ kind: "publish-payment-declined", paymentId, reason: verdict.reason }],
        };
      }
      return {
        kind: "transition",
        next: { status: "captured", paymentId, amountMinor },
        effects: [{ kind: "publish-payment-captured", paymentId, amountMinor }],
      };
    }
    case "order-cancelled":
      if (state.status === "none") return { kind: "transition", next: { status: "cancelled-before-charge" }, effects: [] };
      if (state.status !== "captured") return { kind: "ignore", why: `nothing to refund: charge is ${state.status}` };
      return {
        kind: "transition",
        next: { status: "refunded", paymentId: state.paymentId, amountMinor: state.amountMinor },
        effects: [{ kind: "publish-payment-refunded", paymentId: state.paymentId, amountMinor: state.amountMinor }],
      };
  }
}
