import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { getTextEncoding } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import { PutItemRequestSchema } from "../../../test/contract/gen/protomesh/test/v1/item_pb.js";
import { encodeUtf8, useFastUtf8Encoding } from "./utf8-encoding.js";

const samples = ["", "EUR", "7d0b6c1e-9a52-4c1b-8f5e-2b1f6c3a9e10", "a".repeat(64), "a".repeat(65), "é", "Größe", "日本語", "😀", "x😀y", "\ud800", "a\udc00b", "\u0000\u007f\u0080", `${"a".repeat(63)}é`, "é".repeat(100)];

describe("encodeUtf8", () => {
  it("writes the bytes TextEncoder writes, lone surrogates included", () => {
    const encoder = new TextEncoder();
    for (const text of samples) {
      const bytes = encodeUtf8(text);
      expect(bytes.constructor, JSON.stringify(text)).toBe(Uint8Array);
      expect(Array.from(bytes), JSON.stringify(text)).toEqual(Array.from(encoder.encode(text)));
    }
  });

  it("once installed, protobuf-es serializes string fields as before", () => {
    const message = create(PutItemRequestSchema, { ownerId: "user-42", lines: samples.map((code) => ({ code, quantity: 1 })) });
    const before = toBinary(PutItemRequestSchema, message);
    useFastUtf8Encoding();
    useFastUtf8Encoding();
    expect(getTextEncoding().encodeUtf8).toBe(encodeUtf8);
    expect(toBinary(PutItemRequestSchema, message)).toEqual(before);
    expect(fromBinary(PutItemRequestSchema, before).lines.map((line) => line.code)).toEqual(samples.map((s) => new TextDecoder().decode(new TextEncoder().encode(s))));
  });
});
