import { Code, ConnectError } from "@connectrpc/connect";
import { codeFromString, codeToHttpStatus, codeToString, endStreamFlag } from "@connectrpc/connect/protocol-connect";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { encodeEnvelope, type UniversalHandler, type UniversalServerResponse } from "@connectrpc/connect/protocol";
import type { UnexpectedErrorHandler } from "./interceptors/error-mapping.js";

// What connect-es says when a request's bytes do not decode (protobuf, gzip, a compressed message
// without an encoding). It reports those as Internal ("Error parsing request proto" in gRPC's own
// table), but the fault is the caller's and the lean path answers InvalidArgument: one code on
// every protocol and path. The JSON decoder already answers InvalidArgument.
const undecodable = /^(parse binary: |decompression failed$|received compressed envelope, but do not know how to decompress$)/;
// A missing or extra request message of a unary call: connect-es answers Unimplemented.
const malformedUnary = /^protocol error: (missing input message|received extra input message) for (unary|server-streaming) method$/;
// A response that does not serialize (an int64 out of range): it fails after every interceptor.
const unserializable = /^serialize (binary|json): /;

/**
 * The outcome of every call served by connect-node, as its protocol writes it: a request that does
 * not decode answers InvalidArgument, and an Internal that arises outside the interceptors (a
 * response that does not serialize) is reported, since no interceptor saw it.
 */
export function withCallOutcomes(handler: UniversalHandler, onUnexpected: UnexpectedErrorHandler): UniversalHandler {
  const procedure = `${handler.service.typeName}/${handler.method.name}`;
  const settle = (code: Code, message: string): Code | undefined => {
    if (code === Code.Internal && undecodable.test(message)) return Code.InvalidArgument;
    if (code === Code.Unimplemented && malformedUnary.test(message)) return Code.InvalidArgument;
    if (code === Code.Internal && unserializable.test(message)) onUnexpected(new ConnectError(message, code), procedure);
    return undefined;
  };
  const observed = async (request: Parameters<UniversalHandler>[0]): Promise<UniversalServerResponse> => {
    const response = await handler(request);
    const contentType = response.header?.get("content-type") ?? "";
    const { body } = response;
    // A compressed body is left as it is: errors are small and sent uncompressed.
    if (typeof body !== "object" || body === null || !(Symbol.asyncIterator in body) || response.header?.has("content-encoding")) return response;
    if (contentType.startsWith("application/grpc-web")) return { ...response, body: mapChunks(body, (chunk) => settleGrpcWebTrailer(chunk, settle)) };
    if (contentType.startsWith("application/grpc")) return { ...response, body: afterAll(body, () => settleGrpcTrailer(response.trailer, settle)) };
    if (contentType.startsWith("application/connect+")) return { ...response, body: mapChunks(body, (chunk) => settleConnectEndStream(chunk, settle)) };
    if (response.status !== 200 && contentType.startsWith("application/json")) return settleConnectUnaryError(response, body, settle);
    return response;
  };
  return Object.assign(observed, {
    service: handler.service,
    method: handler.method,
    requestPath: handler.requestPath,
    supportedContentType: handler.supportedContentType,
    protocolNames: handler.protocolNames,
    allowedMethods: handler.allowedMethods,
  });
}

type Settle = (code: Code, message: string) => Code | undefined;

async function* mapChunks(body: AsyncIterable<Uint8Array>, map: (chunk: Uint8Array) => Uint8Array): AsyncIterable<Uint8Array> {
  for await (const chunk of body) yield map(chunk);
}

async function* afterAll(body: AsyncIterable<Uint8Array>, then: () => void): AsyncIterable<Uint8Array> {
  yield* body;
  then();
}

function settleGrpcTrailer(trailer: Headers | undefined, settle: Settle): void {
  const status = trailer?.get("grpc-status");
  if (trailer === undefined || status === null || status === undefined || status === "0") return;
  const code = settle(Number(status), decodeMessage(trailer.get("grpc-message") ?? ""));
  if (code !== undefined) trailer.set("grpc-status", String(code));
}

function decodeMessage(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}

function parseJson<T>(bytes: Uint8Array): T | undefined {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch {
    return undefined;
  }
}

// A gRPC-Web trailer is the body's last envelope: flag 0x80, then the trailer as HTTP/1 header lines.
function settleGrpcWebTrailer(chunk: Uint8Array, settle: Settle): Uint8Array {
  if (chunk.length < 5 || chunk[0] !== trailerFlag) return chunk;
  const trailer = trailerParse(chunk.subarray(5));
  const before = trailer.get("grpc-status");
  settleGrpcTrailer(trailer, settle);
  return trailer.get("grpc-status") === before ? chunk : encodeEnvelope(trailerFlag, trailerSerialize(trailer));
}

// A Connect stream ends with an envelope flagged end-stream holding {"error": {code, message}}.
function settleConnectEndStream(chunk: Uint8Array, settle: Settle): Uint8Array {
  if (chunk.length < 5 || chunk[0] !== endStreamFlag) return chunk;
  const endStream = parseJson<{ error?: { code?: string; message?: string } }>(chunk.subarray(5));
  const code = endStream?.error?.code === undefined ? undefined : codeFromString(endStream.error.code);
  if (endStream === undefined || code === undefined) return chunk;
  const settled = settle(code, endStream.error?.message ?? "");
  if (settled === undefined) return chunk;
  endStream.error = { ...endStream.error, code: codeToString(settled) };
  return encodeEnvelope(endStreamFlag, new TextEncoder().encode(JSON.stringify(endStream)));
}

// A Connect unary error is an HTTP status and a JSON body {code, message, details}.
async function settleConnectUnaryError(response: UniversalServerResponse, body: AsyncIterable<Uint8Array>, settle: Settle): Promise<UniversalServerResponse> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  const error = parseJson<{ code?: string; message?: string }>(bytes);
  const code = error?.code === undefined ? undefined : codeFromString(error.code);
  const settled = code === undefined ? undefined : settle(code, error?.message ?? "");
  if (error === undefined || settled === undefined) return { ...response, body: oneChunk(bytes) };
  const settledBytes = Buffer.from(JSON.stringify({ ...error, code: codeToString(settled) }));
  const header = new Headers(response.header);
  if (header.has("content-length")) header.set("content-length", String(settledBytes.length));
  return { ...response, status: codeToHttpStatus(settled), header, body: oneChunk(settledBytes) };
}

async function* oneChunk(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
