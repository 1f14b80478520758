import { create, getOption, type DescField } from "@bufbuild/protobuf";
import { createValidator } from "@bufbuild/protovalidate";
import { field as fieldRules } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { describe, expect, it } from "vitest";
import { QuoteItemsRequestSchema, QuoteLineInputSchema, SetStockRequestSchema } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { CreateOrderRequestSchema, LineItemInputSchema } from "protomesh/gen/shop/orders/v1/orders_pb";
import { OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { PaymentCapturedSchema } from "protomesh/gen/shop/payments/v1/events_pb";
import { type AmountOutOfRangeError, checkUnitPrice, isAmountOutOfRange, MAX_LINE_QUANTITY, MAX_ORDER_LINES, MAX_TOTAL_MINOR, MAX_UNIT_PRICE_MINOR, orderTotal } from "./money.js";

const INT64_MAX = 2n ** 63n - 1n;

function rangeError(run: () => unknown): AmountOutOfRangeError {
  try {
    run();
  } catch (error) {
    if (isAmountOutOfRange(error)) return error;
    throw error;
  }
  throw new Error("expected an AmountOutOfRangeError");
}

describe("orderTotal", () => {
  it("sums unit price times quantity", () => {
    expect(orderTotal([{ sku: "MUG-1", quantity: 3, unitPriceMinor: 1250n }, { sku: "TEE-1", quantity: 1, unitPriceMinor: 0n }])).toBe(3750n);
    expect(orderTotal([])).toBe(0n);
  });

  it("reaches the highest total with every line at the highest price and quantity", () => {
    const lines = Array.from({ length: MAX_ORDER_LINES }, (_, i) => ({ sku: `SKU-${i}`, quantity: MAX_LINE_QUANTITY, unitPriceMinor: MAX_UNIT_PRICE_MINOR }));
    expect(orderTotal(lines)).toBe(MAX_TOTAL_MINOR);
  });

  it.each([
    ["a negative price", { sku: "MUG-1", quantity: 3, unitPriceMinor: -5000n }, "unit_price of SKU MUG-1", "-5000 minor units"],
    ["a price past the bound", { sku: "MUG-1", quantity: 2, unitPriceMinor: INT64_MAX }, "unit_price of SKU MUG-1", String(INT64_MAX)],
    ["a zero quantity", { sku: "MUG-1", quantity: 0, unitPriceMinor: 1n }, "quantity of SKU MUG-1", "outside 1..1000"],
    ["a fractional quantity", { sku: "MUG-1", quantity: 1.5, unitPriceMinor: 1n }, "quantity of SKU MUG-1", "1.5"],
  ])("refuses %s, naming the line", (_name, line, field, text) => {
    const error = rangeError(() => orderTotal([line]));
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
    expect(error.message).toContain(text);
  });

  it("refuses a sum past the highest total (more lines than an order may have)", () => {
    const lines = Array.from({ length: MAX_ORDER_LINES + 1 }, (_, i) => ({ sku: `SKU-${i}`, quantity: MAX_LINE_QUANTITY, unitPriceMinor: MAX_UNIT_PRICE_MINOR }));
    expect(rangeError(() => orderTotal(lines)).field).toBe("total");
  });
});

describe("checkUnitPrice", () => {
  it("accepts 0..MAX_UNIT_PRICE_MINOR and names the field otherwise", () => {
    expect(checkUnitPrice(0n, "unit_price")).toBe(0n);
    expect(checkUnitPrice(MAX_UNIT_PRICE_MINOR, "unit_price")).toBe(MAX_UNIT_PRICE_MINOR);
    expect(rangeError(() => checkUnitPrice(-1n, "unit_price.amount_minor")).message).toBe("unit_price.amount_minor is -1 minor units, outside 0..100000000000");
  });
});

describe("the bounds match the contract", () => {
  const validator = createValidator();
  const rulesOf = (field: DescField) => getOption(field, fieldRules).type;

  it("takes quantity and line-count bounds from the protos' rules", () => {
    for (const quantity of [LineItemInputSchema.field.quantity, QuoteLineInputSchema.field.quantity]) {
      const rules = rulesOf(quantity);
      expect(rules.case === "int32" && rules.value.lessThan.case === "lte" ? rules.value.lessThan.value : undefined).toBe(MAX_LINE_QUANTITY);
    }
    for (const items of [CreateOrderRequestSchema.field.items, QuoteItemsRequestSchema.field.items]) {
      const rules = rulesOf(items);
      expect(rules.case === "repeated" ? rules.value.maxItems : undefined).toBe(BigInt(MAX_ORDER_LINES));
    }
  });

  it("uses the protos' price and total bounds, and keeps a total exact as a JavaScript number", () => {
    const price = (amountMinor: bigint) => create(SetStockRequestSchema, { sku: "SKU-1", name: "x", unitPrice: { currencyCode: "EUR", amountMinor } });
    expect(validator.validate(SetStockRequestSchema, price(MAX_UNIT_PRICE_MINOR)).kind).toBe("valid");
    expect(validator.validate(SetStockRequestSchema, price(MAX_UNIT_PRICE_MINOR + 1n)).kind).toBe("invalid");
    const total = (amountMinor: bigint) => create(OrderPlacedSchema, { total: { currencyCode: "EUR", amountMinor } });
    expect(validator.validate(OrderPlacedSchema, total(MAX_TOTAL_MINOR)).kind).toBe("valid");
    expect(validator.validate(OrderPlacedSchema, total(MAX_TOTAL_MINOR + 1n)).kind).toBe("invalid");
    const capture = (amountMinor: bigint) => create(PaymentCapturedSchema, { amount: { currencyCode: "EUR", amountMinor } });
    expect(validator.validate(PaymentCapturedSchema, capture(MAX_TOTAL_MINOR)).kind).toBe("valid");
    expect(validator.validate(PaymentCapturedSchema, capture(MAX_TOTAL_MINOR + 1n)).kind).toBe("invalid");
    expect(MAX_TOTAL_MINOR).toBeLessThanOrEqual(BigInt(Number.MAX_SAFE_INTEGER));
  });
});
