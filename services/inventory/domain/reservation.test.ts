import { describe, expect, it } from "vitest";
import { decide, mergeLines, type StockLevel } from "./reservation.js";

const stock = new Map<string, StockLevel>([
  ["MUG-1", { sku: "MUG-1", available: 5, reserved: 0, sold: 0 }],
  ["TEE-2", { sku: "TEE-2", available: 1, reserved: 2, sold: 3 }],
]);

describe("reservation decisions", () => {
  it("reserves every line when all are available", () => {
    const decision = decide({ status: "none" }, { kind: "order-placed", lines: [{ sku: "MUG-1", quantity: 2 }, { sku: "TEE-2", quantity: 1 }], stock });
    expect(decision).toEqual({
      kind: "transition",
      next: { status: "reserved", lines: [{ sku: "MUG-1", quantity: 2 }, { sku: "TEE-2", quantity: 1 }] },
      stockChanges: [
        { sku: "MUG-1", available: -2, reserved: 2, sold: 0 },
        { sku: "TEE-2", available: -1, reserved: 1, sold: 0 },
      ],
      effects: [{ kind: "publish-stock-reserved", lines: [{ sku: "MUG-1", quantity: 2 }, { sku: "TEE-2", quantity: 1 }] }],
    });
  });

  it("rejects the whole order, holding nothing, when one line is short or unknown", () => {
    const decision = decide({ status: "none" }, { kind: "order-placed", lines: [{ sku: "MUG-1", quantity: 1 }, { sku: "TEE-2", quantity: 2 }, { sku: "NOPE-9", quantity: 1 }], stock });
    expect(decision).toEqual({
      kind: "transition",
      next: { status: "rejected" },
      stockChanges: [],
      effects: [{ kind: "publish-stock-rejected", shortages: [{ sku: "TEE-2", requested: 2, available: 1 }, { sku: "NOPE-9", requested: 1, available: 0 }] }],
    });
  });

  it("checks a SKU listed twice against its total", () => {
    expect(mergeLines([{ sku: "TEE-2", quantity: 1 }, { sku: "TEE-2", quantity: 1 }])).toEqual([{ sku: "TEE-2", quantity: 2 }]);
    const decision = decide({ status: "none" }, { kind: "order-placed", lines: [{ sku: "TEE-2", quantity: 1 }, { sku: "TEE-2", quantity: 1 }], stock });
    expect(decision).toMatchObject({ next: { status: "rejected" } });
  });

  it("releases a reservation when the order is cancelled, and sells it when confirmed", () => {
    const reserved = { status: "reserved" as const, lines: [{ sku: "MUG-1", quantity: 2 }] };
    expect(decide(reserved, { kind: "order-cancelled" })).toEqual({
      kind: "transition",
      next: { status: "released", lines: reserved.lines },
      stockChanges: [{ sku: "MUG-1", available: 2, reserved: -2, sold: 0 }],
      effects: [{ kind: "publish-stock-released", lines: reserved.lines }],
    });
    expect(decide(reserved, { kind: "order-confirmed" })).toEqual({
      kind: "transition",
      next: { status: "sold", lines: reserved.lines },
      stockChanges: [{ sku: "MUG-1", available: 0, reserved: -2, sold: 2 }],
      effects: [],
    });
  });

  it("leaves a tombstone when the cancellation overtakes the order, so a late OrderPlaced reserves nothing", () => {
    const tombstone = decide({ status: "none" }, { kind: "order-cancelled" });
    expect(tombstone).toEqual({ kind: "transition", next: { status: "cancelled-before-placed" }, stockChanges: [], effects: [] });
    expect(decide({ status: "cancelled-before-placed" }, { kind: "order-placed", lines: [{ sku: "MUG-1", quantity: 1 }], stock }).kind).toBe("ignore");
  });

  it("conserves stock: every change sums to zero", () => {
    const decisions = [
      decide({ status: "none" }, { kind: "order-placed", lines: [{ sku: "MUG-1", quantity: 3 }], stock }),
      decide({ status: "reserved", lines: [{ sku: "MUG-1", quantity: 3 }] }, { kind: "order-cancelled" }),
      decide({ status: "reserved", lines: [{ sku: "MUG-1", quantity: 3 }] }, { kind: "order-confirmed" }),
    ];
    for (const decision of decisions) {
      if (decision.kind !== "transition") throw new Error("expected a transition");
      for (const change of decision.stockChanges) expect(change.available + change.reserved + change.sold).toBe(0);
    }
  });

  it("ignores repeats and events that find nothing held", () => {
    expect(decide({ status: "released", lines: [] }, { kind: "order-cancelled" }).kind).toBe("ignore");
    expect(decide({ status: "rejected" }, { kind: "order-confirmed" }).kind).toBe("ignore");
    expect(decide({ status: "reserved", lines: [] }, { kind: "order-placed", lines: [], stock }).kind).toBe("ignore");
  });
});
