import { configureTextEncoding, getTextEncoding } from "@bufbuild/protobuf/wire";

// Strings up to this many UTF-16 units fit a typed array V8 keeps on its own heap (no
// ArrayBuffer backing store to allocate and sweep).
const smallString = 64;

/**
 * protobuf-es writes every string field through `TextEncoder.encode`, which on Node 20 costs
 * about 0.5 µs and a fresh ArrayBuffer per string. This makes protobuf-es, in the whole process,
 * encode short ASCII strings by hand and the rest with `Buffer.from`, which produce the same
 * bytes (lone surrogates become U+FFFD in both). Decoding is left as it is. Idempotent.
 *
 * The server never calls it: protobuf-es's encoding is a process-wide setting that belongs to the
 * application (its lean gRPC path writes strings itself). An application that wants it for its
 * clients and the other protocols calls it once at start-up (ADR 127).
 */
export function useFastUtf8Encoding(): void {
  const current = getTextEncoding();
  if (current.encodeUtf8 === encodeUtf8) return;
  configureTextEncoding({ encodeUtf8, decodeUtf8: current.decodeUtf8, checkUtf8: current.checkUtf8 });
}

export function encodeUtf8(text: string): Uint8Array<ArrayBuffer> {
  const length = text.length;
  if (length <= smallString) {
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code > 0x7f) return encodeWithBuffer(text);
      bytes[i] = code;
    }
    return bytes;
  }
  return encodeWithBuffer(text);
}

// Small strings share Node's buffer pool; a plain Uint8Array view keeps Buffer's methods (and
// its different equals, toJSON) out of messages.
function encodeWithBuffer(text: string): Uint8Array<ArrayBuffer> {
  const buffer = Buffer.from(text, "utf8");
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
}
