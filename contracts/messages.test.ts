import { readFileSync } from "node:fs";
import { join } from "node:path";
import { create, equals, fromBinary, fromJsonString, toBinary, toJsonString, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { createValidator, type ValidationResult } from "@bufbuild/protovalidate";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { describe, expect, it } from "vitest";
import { CreateOrderRequestSchema, ListOrdersRequestSchema, GetOrderRequestSchema } from "protomesh/gen/shop/orders/v1/orders_pb";
import { AdjustStockRequestSchema, SetStockRequestSchema } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { StockReservedSchema } from "protomesh/gen/shop/inventory/v1/events_pb";
import { OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { PaymentCapturedSchema, PaymentRefundedSchema } from "protomesh/gen/shop/payments/v1/events_pb";
import { goldenFixtures } from "./golden-fixtures.js";

const goldenDir = join(import.meta.dirname, "golden");
const eur = (amountMinor: bigint) => ({ currencyCode: "EUR", amountMinor });

describe("generated schemas", () => {
  for (const { schema, message } of goldenFixtures) {
    it(`round-trips ${schema.typeName} through binary and JSON`, () => {
      expect(equals(schema, fromBinary(schema, toBinary(schema, message)), message)).toBe(true);
      expect(equals(schema, fromJsonString(schema, toJsonString(schema, message)), message)).toBe(true);
    });
  }
});

describe("golden encodings from the last release", () => {
  for (const { schema } of goldenFixtures) {
    it(`still decode as ${schema.typeName}`, () => {
      const released = fromBinary(schema, readFileSync(join(goldenDir, `${schema.typeName}.binpb`)));
      const expected = fromJsonString(schema, readFileSync(join(goldenDir, `${schema.typeName}.json`), "utf8"));
      expect(equals(schema, released, expected)).toBe(true);
      // Nothing in a released message may decode as an unknown field: that would mean a
      // field lost its number.
      expect(released.$unknown ?? []).toEqual([]);
    });
  }
});

describe("protovalidate rules", () => {
  const validator = createValidator();
  const validOrder = {
    userId: "user-42",
    items: [{ sku: "SKU-1001", quantity: 2 }],
    idempotencyKey: "checkout-7f3a9c",
    currencyCode: "EUR",
  };

  const fields = (result: ValidationResult) =>
    result.kind === "invalid" ? result.violations.map((v) => `${pathToString(v.field)}:${v.ruleId}`) : [];

  it("accepts a well-formed CreateOrder", () => {
    expect(validator.validate(CreateOrderRequestSchema, create(CreateOrderRequestSchema, validOrder)).kind).toBe("valid");
  });

  it.each([
    ["no items", { items: [] }, "items:repeated.min_items"],
    ["a zero quantity", { items: [{ sku: "SKU-1001", quantity: 0 }] }, "items[0].quantity:int32.gt_lte"],
    ["an oversized quantity", { items: [{ sku: "SKU-1001", quantity: 1001 }] }, "items[0].quantity:int32.gt_lte"],
    ["a lowercase SKU", { items: [{ sku: "sku-1", quantity: 1 }] }, "items[0].sku:string.pattern"],
    ["a short idempotency key", { idempotencyKey: "abc" }, "idempotency_key:string.min_len"],
    ["an empty user", { userId: "" }, "user_id:string.min_len"],
    ["a lowercase currency", { currencyCode: "eur" }, "currency_code:string.pattern"],
  ])("rejects a CreateOrder with %s", (_, change, expected) => {
    const result = validator.validate(CreateOrderRequestSchema, create(CreateOrderRequestSchema, { ...validOrder, ...change }));
    expect(result.kind).toBe("invalid");
    expect(fields(result)).toContain(expected);
  });

  it("rejects ids that are not UUIDs and page sizes out of range", () => {
    expect(fields(validator.validate(GetOrderRequestSchema, create(GetOrderRequestSchema, { orderId: "42" })))).toEqual(["order_id:string.uuid"]);
    expect(fields(validator.validate(ListOrdersRequestSchema, create(ListOrdersRequestSchema, { pageSize: 501 })))).toEqual(["page_size:int32.gte_lte"]);
    expect(validator.validate(ListOrdersRequestSchema, create(ListOrdersRequestSchema, { pageSize: 500 })).kind).toBe("valid");
  });

  const check = <Desc extends DescMessage>(schema: Desc, init: MessageInitShape<Desc>) => validator.validate(schema, create(schema, init));

  it.each([
    ["a negative unit price", () => check(SetStockRequestSchema, { unitPrice: eur(-5000n) }), "unit_price:money.unit_price"],
    ["a unit price over 10^11", () => check(SetStockRequestSchema, { unitPrice: eur(100_000_000_001n) }), "unit_price:money.unit_price"],
    ["a negative line price in an event", () => check(OrderPlacedSchema, { lines: [{ sku: "SKU-1", quantity: 1, unitPrice: eur(-1n) }] }), "lines[0].unit_price:money.unit_price"],
    ["a total over 5 * 10^15", () => check(OrderPlacedSchema, { total: eur(5_000_000_000_000_001n) }), "total:money.total"],
    ["a negative amount to charge", () => check(StockReservedSchema, { amount: eur(-15_000n) }), "amount:money.total"],
    ["a zero capture", () => check(PaymentCapturedSchema, { amount: eur(0n) }), "amount:money.charge"],
    ["a negative refund", () => check(PaymentRefundedSchema, { amount: eur(-1n) }), "amount:money.charge"],
  ])("rejects %s", (_, validate, expected) => {
    expect(fields(validate())).toContain(expected);
  });

  it.each([
    ["the highest unit price", () => check(SetStockRequestSchema, { sku: "SKU-1001", name: "Gold", unitPrice: eur(100_000_000_000n) })],
    ["a free item", () => check(SetStockRequestSchema, { sku: "SKU-1001", name: "Sample", unitPrice: eur(0n) })],
    ["the highest total", () => check(OrderPlacedSchema, { total: eur(5_000_000_000_000_000n) })],
    ["the smallest capture", () => check(PaymentCapturedSchema, { amount: eur(1n) })],
  ])("accepts %s", (_, validate) => {
    expect(validate().kind).toBe("valid");
  });

  it("rejects a zero stock adjustment and a stock item without a price", () => {
    const adjust = create(AdjustStockRequestSchema, { sku: "SKU-1001", delta: 0, idempotencyKey: "adjust-0001" });
    expect(fields(validator.validate(AdjustStockRequestSchema, adjust))).toEqual(["delta:int32.not_in"]);
    const set = create(SetStockRequestSchema, { sku: "SKU-1001", name: "Mug", available: 3 });
    expect(fields(validator.validate(SetStockRequestSchema, set))).toEqual(["unit_price:required"]);
  });
});
