// The payments side of the order saga as a pure state machine over one order's charge. The
// simulator (payment-simulator.ts) stands in for a card processor and decides capture or
// decline; this module decides what the saga events mean for the order's money.

import { MAX_TOTAL_MINOR } from "../../money/money.js";

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

/**
 * Why an amount cannot be captured, or undefined when it can: only 1..MAX_TOTAL_MINOR is. An
 * amount outside that reached payments past the contract's rules (an event from a bug, an old
 * row); it is declined, so the saga cancels the order at once instead of retrying a charge
 * that can never be right.
 */
export function uncapturable(amountMinor: bigint): string | undefined {
  if (amountMinor <= 0n) return `nothing to capture: the amount is ${amountMinor} minor units, and only positive amounts are captured`;
  if (amountMinor > MAX_TOTAL_MINOR) return `the amount is ${amountMinor} minor units, over the highest order total ${MAX_TOTAL_MINOR}`;
  return undefined;
}

export function decide(state: ChargeState, input: ChargeInput): ChargeDecision {
  switch (input.kind) {
    case "stock-reserved": {
      if (state.status !== "none") return { kind: "ignore", why: `charge is already ${state.status}` };
      const { paymentId, amountMinor } = input;
      const refusal = uncapturable(amountMinor);
      const verdict: ProcessorVerdict = refusal === undefined ? input.verdict : { outcome: "decline", reason: refusal };
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
