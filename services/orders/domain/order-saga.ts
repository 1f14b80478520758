// The orders side of the order saga as a pure state machine: what an order becomes when a
// saga event, a customer request or the deadline reaches it, and which events that publishes.
// No I/O here; the event handlers load the state, call decide() and store the result in one
// transaction with the events it asks for.

export type CancellationCause = "out-of-stock" | "payment-declined" | "customer-requested" | "deadline-exceeded";

export type OrderSagaState =
  /**
   * Placed; waiting for inventory and payments. `stockReserved` only informs the tracker. Over
   * sharded inventory (ADR 0105) `awaitingShards` lists the shards of the order's SKUs that have
   * not reserved yet, and `paymentId` is a capture that came before the last of them.
   */
  | { status: "pending"; stockReserved: boolean; deadline: Date; awaitingShards?: readonly string[]; paymentId?: string }
  /** Stock reserved and payment captured. Terminal. */
  | { status: "confirmed"; paymentId: string }
  /** Will not be fulfilled; compensations are triggered by the OrderCancelled event. Terminal. */
  | { status: "cancelled"; cause: CancellationCause };

export type OrderSagaInput =
  /** `shard`: the inventory shard that reserved, for an order over sharded inventory. */
  | { kind: "stock-reserved"; shard?: string }
  | { kind: "stock-rejected" }
  | { kind: "payment-captured"; paymentId: string }
  | { kind: "payment-declined" }
  | { kind: "cancel-requested" }
  | { kind: "deadline-passed"; now: Date };

export type OrderSagaEffect =
  | { kind: "publish-order-confirmed"; paymentId: string }
  | { kind: "publish-order-cancelled"; cause: CancellationCause };

export type OrderSagaDecision =
  | { kind: "transition"; next: OrderSagaState; effects: OrderSagaEffect[] }
  /** Nothing changes: a late or repeated input after the saga has moved on. */
  | { kind: "ignore"; why: string }
  /** The input asks for something the order's state forbids (a customer cancelling a terminal order). */
  | { kind: "reject"; why: string };

function cancel(cause: CancellationCause): OrderSagaDecision {
  return { kind: "transition", next: { status: "cancelled", cause }, effects: [{ kind: "publish-order-cancelled", cause }] };
}

function confirm(paymentId: string): OrderSagaDecision {
  return { kind: "transition", next: { status: "confirmed", paymentId }, effects: [{ kind: "publish-order-confirmed", paymentId }] };
}

type Pending = Extract<OrderSagaState, { status: "pending" }>;

/**
 * Over sharded inventory every shard of the order answers on its own and payments charges on the
 * first reservation, so the order is confirmed once the last shard has reserved and the payment
 * is captured, in whichever order those come.
 */
function decideSharded(state: Pending & { awaitingShards: readonly string[] }, input: Extract<OrderSagaInput, { kind: "stock-reserved" | "payment-captured" }>): OrderSagaDecision {
  if (input.kind === "payment-captured") {
    if (state.awaitingShards.length === 0) return confirm(input.paymentId);
    if (state.paymentId !== undefined) return { kind: "ignore", why: "payment already captured" };
    return { kind: "transition", next: { ...state, paymentId: input.paymentId }, effects: [] };
  }
  if (input.shard === undefined || !state.awaitingShards.includes(input.shard)) {
    return { kind: "ignore", why: `shard ${input.shard ?? "(none)"} is not awaited (awaiting ${state.awaitingShards.join(", ") || "none"})` };
  }
  const awaitingShards = state.awaitingShards.filter((shard) => shard !== input.shard);
  if (awaitingShards.length === 0 && state.paymentId !== undefined) return confirm(state.paymentId);
  return { kind: "transition", next: { ...state, awaitingShards, stockReserved: awaitingShards.length === 0 }, effects: [] };
}

export function decide(state: OrderSagaState, input: OrderSagaInput): OrderSagaDecision {
  if (state.status !== "pending") {
    if (input.kind === "cancel-requested") {
      return { kind: "reject", why: `order is already ${state.status}; only pending orders can be cancelled` };
    }
    // A capture that lands after a cancellation is refunded by payments when it sees
    // OrderCancelled; orders itself never un-cancels.
    return { kind: "ignore", why: `order is already ${state.status}` };
  }
  if (state.awaitingShards !== undefined && (input.kind === "stock-reserved" || input.kind === "payment-captured")) {
    return decideSharded({ ...state, awaitingShards: state.awaitingShards }, input);
  }
  switch (input.kind) {
    case "stock-reserved":
      return state.stockReserved
        ? { kind: "ignore", why: "stock already reserved" }
        : { kind: "transition", next: { ...state, stockReserved: true }, effects: [] };
    case "stock-rejected":
      return cancel("out-of-stock");
    case "payment-captured":
      return confirm(input.paymentId);
    case "payment-declined":
      return cancel("payment-declined");
    case "cancel-requested":
      return cancel("customer-requested");
    case "deadline-passed":
      return input.now.getTime() >= state.deadline.getTime()
        ? cancel("deadline-exceeded")
        : { kind: "ignore", why: "deadline not reached" };
  }
}
