import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { CacheCodec } from "./read-through-cache.js";

/** Caches protobuf messages in their binary form: compact, and readable by older and newer versions. */
export function protobufCodec<Desc extends DescMessage>(schema: Desc): CacheCodec<MessageShape<Desc>> {
  return {
    encode: (value) => toBinary(schema, value),
    decode: (bytes) => fromBinary(schema, bytes),
  };
}
