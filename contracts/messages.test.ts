import { readFileSync } from "node:fs";
import { join } from "node:path";
import { create, equals, fromBinary, fromJsonString, toBinary, toJsonString } from "@bufbuild/protobuf";
import { createValidator, type ValidationResult } from "@bufbuild/protovalidate";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { describe, expect, it } from "vitest";
import { CreateOrderRequestSchema, ListOrdersRequestSchema, GetOrderRequestSchema } from "protomesh/gen/shop/orders/v1/orders_pb";
import { AdjustStockRequestSchema, SetStockRequestSchema } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { goldenFixtures } from "./golden-fixtures.js";

const goldenDir = join(import.meta.dirname, "golden");

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

  it("rejects a zero stock adjustment and a stock item without a price", () => {
    const adjust = create(AdjustStockRequestSchema, { sku: "SKU-1001", delta: 0, idempotencyKey: "adjust-0001" });
    expect(fields(validator.validate(AdjustStockRequestSchema, adjust))).toEqual(["delta:int32.not_in"]);
    const set = create(SetStockRequestSchema, { sku: "SKU-1001", name: "Mug", available: 3 });
    expect(fields(validator.validate(SetStockRequestSchema, set))).toEqual(["unit_price:required"]);
  });
});
