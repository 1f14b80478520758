import { constants, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import type { ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";

// The same few errors answer every refused call (admission makes each once).
const encodedStatus = new WeakMap<ConnectError, Record<string, string | string[]>>();

/**
 * Answers a call with an error before any handler runs (a bound hit, an unknown method, a request
 * that never finished arriving), in the protocol the request speaks: a trailers-only response for
 * gRPC and gRPC-Web, an HTTP error status with a JSON error for Connect. The stream is then reset,
 * so whatever the client still sends is not read.
 */
export function answerEarly(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, error: ConnectError): void {
  if (!stream.destroyed && !stream.closed && !stream.headersSent) {
    const contentType = headers["content-type"] ?? "";
    if (contentType.startsWith("application/grpc")) {
      let status = encodedStatus.get(error);
      if (status === undefined) {
        status = grpcErrorHeaders(error, {});
        encodedStatus.set(error, status);
      }
      stream.respond({ ":status": "200", "content-type": contentType, ...status }, { endStream: true });
    } else {
      stream.respond({ ":status": String(codeToHttpStatus(error.code)), "content-type": "application/json" });
      stream.end(errorToJsonBytes(error, {}));
    }
  }
  resetAfterAnswer(stream);
}

/**
 * Resets a stream the server has just answered (NO_ERROR), so that whatever the client still
 * sends is not read, one event-loop turn later. The session writes the answer's frames in a
 * native immediate; since Node 22.23.3 ("http2: avoid uaf while receiving and sending
 * rst_stream"), a reset made before that write drops them, and the client sees the stream close
 * without a response (a gRPC call then waits for its deadline). process.nextTick is not late
 * enough; setImmediate runs after the write on Node 20, 22 and 24.
 */
export function resetAfterAnswer(stream: ServerHttp2Stream): void {
  setImmediate(() => {
    if (!stream.closed) stream.close(constants.NGHTTP2_NO_ERROR);
  });
}

/** gRPC's status headers for an error, added to `into` (trailers, or the headers of a trailers-only response). */
export function grpcErrorHeaders(error: ConnectError, into: Record<string, string | string[]>): Record<string, string | string[]> {
  const status = new Headers();
  setTrailerStatus(status, error);
  // gRPC percent-encodes only what is not printable ASCII (and "%"); connect's
  // encodeURIComponent would show grpc-js users "%3A" for every colon.
  status.set("grpc-message", encodeGrpcMessage(error.rawMessage));
  status.forEach((value, key) => {
    into[key] = value;
  });
  return into;
}

function encodeGrpcMessage(message: string): string {
  return Array.from(Buffer.from(message, "utf8"), (byte) =>
    byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`,
  ).join("");
}
