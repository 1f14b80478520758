// The inventory side of the order saga as a pure state machine over one order's reservation,
// plus the stock arithmetic. The handlers lock the order's reservation row and the stock rows
// it touches, call decide(), and apply the returned stock changes and events in one
// transaction.

export interface StockLevel {
  sku: string;
  available: number;
  reserved: number;
  sold: number;
}

export interface Line {
  sku: string;
  quantity: number;
}

export type ReservationState =
  /** Nothing known about the order yet. */
  | { status: "none" }
  /** Every line is held. */
  | { status: "reserved"; lines: Line[] }
  /** Some line could not be held; nothing was. Terminal. */
  | { status: "rejected" }
  /** Was held, given back after the order was cancelled. Terminal. */
  | { status: "released"; lines: Line[] }
  /** Held stock became sold when the order was confirmed. Terminal. */
  | { status: "sold"; lines: Line[] }
  /** OrderCancelled arrived before OrderPlaced: a tombstone so a late OrderPlaced reserves nothing. Terminal. */
  | { status: "cancelled-before-placed" };

export type ReservationInput =
  | { kind: "order-placed"; lines: Line[]; stock: ReadonlyMap<string, StockLevel> }
  | { kind: "order-cancelled" }
  | { kind: "order-confirmed" };

/** A change to one SKU's counters; the three deltas always sum to zero (stock is conserved). */
export interface StockChange {
  sku: string;
  available: number;
  reserved: number;
  sold: number;
}

export interface Shortage {
  sku: string;
  requested: number;
  available: number;
}

export type ReservationEffect =
  | { kind: "publish-stock-reserved"; lines: Line[] }
  | { kind: "publish-stock-rejected"; shortages: Shortage[] }
  | { kind: "publish-stock-released"; lines: Line[] };

export type ReservationDecision =
  | { kind: "transition"; next: ReservationState; stockChanges: StockChange[]; effects: ReservationEffect[] }
  | { kind: "ignore"; why: string };

/** Sums quantities per SKU, so an order listing a SKU twice is checked against its total. */
export function mergeLines(lines: readonly Line[]): Line[] {
  const totals = new Map<string, number>();
  for (const { sku, quantity } of lines) totals.set(sku, (totals.get(sku) ?? 0) + quantity);
  return [...totals].map(([sku, quantity]) => ({ sku, quantity }));
}

function findShortages(lines: Line[], stock: ReadonlyMap<string, StockLevel>): Shortage[] {
  return lines.flatMap(({ sku, quantity }) => {
    const available = stock.get(sku)?.available ?? 0;
    return available >= quantity ? [] : [{ sku, requested: quantity, available }];
  });
}

export function decide(state: ReservationState, input: ReservationInput): ReservationDecision {
  switch (input.kind) {
    case "order-placed": {
      if (state.status !== "none") return { kind: "ignore", why: `reservation is already ${state.status}` };
      const lines = mergeLines(input.lines);
      const shortages = findShortages(lines, input.stock);
      if (shortages.length > 0) {
        return { kind: "transition", next: { status: "rejected" }, stockChanges: [], effects: [{ kind: "publish-stock-rejected", shortages }] };
      }
      return {
        kind: "transition",
        next: { status: "reserved", lines },
        stockChanges: lines.map(({ sku, quantity }) => ({ sku, available: -quantity, reserved: quantity, sold: 0 })),
        effects: [{ kind: "publish-stock-reserved", lines }],
      };
    }
    case "order-cancelled":
      if (state.status === "none") {
        return { kind: "transition", next: { status: "cancelled-before-placed" }, stockChanges: [], effects: [] };
      }
      if (state.status !== "reserved") return { kind: "ignore", why: `nothing held: reservation is ${state.status}` };
      return {
        kind: "transition",
        next: { status: "released", lines: state.lines },
        stockChanges: state.lines.map(({ sku, quantity }) => ({ sku, available: quantity, reserved: -quantity, sold: 0 })),
        effects: [{ kind: "publish-stock-released", lines: state.lines }],
      };
    case "order-confirmed":
      if (state.status !== "reserved") return { kind: "ignore", why: `nothing held: reservation is ${state.status}` };
      return {
        kind: "transition",
        next: { status: "sold", lines: state.lines },
        stockChanges: state.lines.map(({ sku, quantity }) => ({ sku, available: 0, reserved: -quantity, sold: quantity })),
        effects: [],
      };
  }
}
