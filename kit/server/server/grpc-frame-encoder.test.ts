import { create, createFileRegistry, fromBinary, ScalarType, toBinary, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import {
  EmptySchema,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  file_google_protobuf_wrappers,
  StructSchema,
  TimestampSchema,
} from "@bufbuild/protobuf/wkt";
import { FieldRulesSchema, PredefinedRulesSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { describe, expect, it } from "vitest";
import { ItemSchema, PutItemRequestSchema, PutItemResponseSchema } from "../../../test/contract/gen/protomesh/test/v1/item_pb.js";
import { PriceSchema } from "../../../test/contract/gen/protomesh/test/v1/price_pb.js";
import { encodeGrpcFrame } from "./grpc-frame-encoder.js";

// A seeded generator, so a failure names a message that can be made again.
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const strings = ["", "EUR", "ITEM-1", "é", "日本語", "😀", "\ud800", "a".repeat(200), "x".repeat(20_000)];

function scalarValue(type: ScalarType, longAsString: boolean, next: () => number): unknown {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)] as T;
  const long = (values: readonly bigint[]): unknown => {
    const v = pick(values);
    return longAsString ? v.toString() : v;
  };
  switch (type) {
    case ScalarType.STRING:
      return pick(strings);
    case ScalarType.BYTES:
      return pick([new Uint8Array(0), new Uint8Array([0, 255, 7]), new Uint8Array(300).fill(9)]);
    case ScalarType.BOOL:
      return next() < 0.5;
    case ScalarType.DOUBLE:
      return pick([0, -0, 1.5, -2.25e300, Number.NaN, Number.POSITIVE_INFINITY]);
    case ScalarType.FLOAT:
      return pick([0, 1.5, -3.4e38, Number.NaN]);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return pick([0, 1, 127, 128, -1, 2 ** 31 - 1, -(2 ** 31)]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return pick([0, 1, 300, 2 ** 32 - 1]);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return long([0n, 1n, -1n, 1250n, 2n ** 40n, 2n ** 63n - 1n, -(2n ** 63n)]);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return long([0n, 1n, 2n ** 32n, 2n ** 64n - 1n]);
  }
}

// Nested messages as made messages, or as plain init objects (what a handler may return).
type Nested = "message" | "init";

function fieldValue(field: DescField, depth: number, next: () => number, nested: Nested): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return scalarValue(field.scalar, field.longAsString, next);
    case "enum":
      return field.enum.values[Math.floor(next() * field.enum.values.length)]?.number ?? 0;
    case "message":
      return depth > 1 ? undefined : randomValue(field.message, depth + 1, next, nested);
    case "list":
      return Array.from({ length: depth > 1 ? 0 : Math.floor(next() * 3) }, () =>
        field.listKind === "message"
          ? randomValue(field.message, depth + 1, next, nested)
          : field.listKind === "enum"
            ? (field.enum.values[0]?.number ?? 0)
            : scalarValue(field.scalar, field.longAsString, next),
      ).filter((v) => v !== undefined);
    case "map":
      return next() < 0.5 || field.mapKind !== "scalar" ? {} : { k: scalarValue(field.scalar, false, next) };
  }
}

function randomInit(schema: DescMessage, depth: number, next: () => number, nested: Nested): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  for (const field of schema.fields) {
    if (next() < 0.35) continue;
    const value = fieldValue(field, depth, next, nested);
    if (value === undefined) continue;
    if (field.oneof === undefined) init[field.localName] = value;
    else init[field.oneof.localName] = { case: field.localName, value };
  }
  return init;
}

function randomValue(schema: DescMessage, depth: number, next: () => number, nested: Nested): unknown {
  const init = randomInit(schema, depth, next, nested);
  return nested === "init" ? init : create(schema, init as never);
}

const randomMessage = (schema: DescMessage, depth: number, next: () => number): Message => create(schema, randomInit(schema, depth, next, "message") as never);

const payload = (frame: Buffer): Uint8Array => {
  expect(frame.readUInt8(0)).toBe(0);
  expect(frame.readUInt32BE(1)).toBe(frame.length - 5);
  return new Uint8Array(frame.subarray(5));
};

describe("encodeGrpcFrame", () => {
  const schemas: DescMessage[] = [PutItemResponseSchema, PutItemRequestSchema, ItemSchema, PriceSchema, TimestampSchema, FileDescriptorProtoSchema, FieldRulesSchema, PredefinedRulesSchema];

  it("writes toBinary's bytes for random messages of proto3 and proto2 schemas", () => {
    const next = random(20261128);
    for (const schema of schemas) {
      for (let i = 0; i < 150; i++) {
        const message = randomMessage(schema, 0, next);
        let expected: Uint8Array;
        try {
          expected = toBinary(schema, message);
        } catch (error) {
          // A proto2 required field left unset: the same error either way.
          expect(() => encodeGrpcFrame(schema, message), `${schema.typeName} #${i}`).toThrow((error as Error).message);
          continue;
        }
        // Compared as hex: a diff of two long byte arrays would take vitest minutes to print.
        expect(Buffer.from(payload(encodeGrpcFrame(schema, message))).toString("hex"), `${schema.typeName} #${i}`).toBe(Buffer.from(expected).toString("hex"));
      }
    }
  });

  it("writes the bytes of create(init) for random init objects, nested ones plain too", () => {
    const next = random(20261129);
    for (const schema of schemas) {
      for (let i = 0; i < 150; i++) {
        const init = randomInit(schema, 0, next, "init");
        let expected: Uint8Array;
        try {
          expected = toBinary(schema, create(schema, init as never));
        } catch (error) {
          expect(() => encodeGrpcFrame(schema, init as never), `${schema.typeName} #${i}`).toThrow((error as Error).message);
          continue;
        }
        expect(Buffer.from(payload(encodeGrpcFrame(schema, init as never))).toString("hex"), `${schema.typeName} #${i}`).toBe(Buffer.from(expected).toString("hex"));
      }
    }
  });

  it("writes an init object's unset, undefined and zero fields as create() leaves them", () => {
    const cases: Record<string, unknown>[] = [
      {},
      { item: undefined },
      { item: { itemId: "", lines: [], price: undefined, state: 0 } },
      { item: { lines: [{ code: "S", quantity: 2 }], price: { currencyCode: "EUR", amountMinor: 0n }, archived: false } },
      { item: { createdAt: { seconds: 1n, nanos: 0 } } },
    ];
    for (const init of cases) {
      expect(payload(encodeGrpcFrame(PutItemResponseSchema, init as never)), JSON.stringify(init, (_, v: unknown) => (typeof v === "bigint" ? `${v}n` : v))).toEqual(
        toBinary(PutItemResponseSchema, create(PutItemResponseSchema, init as never)),
      );
    }
  });

  it("writes a wrapper field's unboxed value as create() boxes it", () => {
    // protobuf-es unboxes google.protobuf.StringValue fields to a string; on the wire it is a message.
    const fileProto = create(FileDescriptorProtoSchema, {
      name: "wrapped.proto",
      package: "test",
      syntax: "proto3",
      dependency: ["google/protobuf/wrappers.proto"],
      messageType: [
        { name: "Wrapped", field: [{ name: "note", jsonName: "note", number: 1, label: FieldDescriptorProto_Label.OPTIONAL, type: FieldDescriptorProto_Type.MESSAGE, typeName: ".google.protobuf.StringValue" }] },
      ],
    });
    const registry = createFileRegistry(fileProto, (name) => (name === "google/protobuf/wrappers.proto" ? file_google_protobuf_wrappers : undefined));
    const wrapped = registry.getMessage("test.Wrapped");
    if (wrapped === undefined) throw new Error("test.Wrapped not registered");
    for (const init of [{}, { note: "hi" }, { note: "" }, { note: { value: "boxed" } }]) {
      const expected = toBinary(wrapped, create(wrapped, init as never));
      expect(payload(encodeGrpcFrame(wrapped, init as never)), JSON.stringify(init)).toEqual(expected);
      expect(payload(encodeGrpcFrame(wrapped, create(wrapped, init as never))), JSON.stringify(init)).toEqual(expected);
    }
    expect(toBinary(wrapped, create(wrapped, { note: "hi" })).length).toBeGreaterThan(0);
  });

  it("keeps unknown fields, as toBinary writes them", () => {
    const item = create(ItemSchema, { itemId: "i-1", ownerId: "u", lines: [{ code: "ITEM-1", quantity: 2 }] });
    // Read as an Empty, every field of an Item is unknown.
    const asEmpty = fromBinary(EmptySchema, toBinary(ItemSchema, item));
    expect(asEmpty.$unknown?.length).toBeGreaterThan(0);
    expect(payload(encodeGrpcFrame(EmptySchema, asEmpty))).toEqual(toBinary(EmptySchema, asEmpty));
  });

  it("leaves maps to toBinary and fails on a bad value with toBinary's error", () => {
    const struct = create(StructSchema, { fields: { a: { kind: { case: "stringValue", value: "x" } } } });
    expect(payload(encodeGrpcFrame(StructSchema, struct))).toEqual(toBinary(StructSchema, struct));
    const bad = create(ItemSchema, { lines: [{ code: "S", quantity: 1.5 }] });
    expect(() => toBinary(ItemSchema, bad)).toThrow();
    expect(() => encodeGrpcFrame(ItemSchema, bad)).toThrow(/cannot encode field .*quantity/);
  });
});
