import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { create, fromBinary, isMessage, toBinary, type DescMessage, type DescMethod, type DescMethodUnary } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext, type Interceptor, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { toConnectError } from "../errors/to-connect-error.js";
import type { ServiceBinding } from "./service-binding.js";

type UnaryFn = (request: unknown, context: HandlerContext) => unknown;
type Next = (req: UnaryRequest) => Promise<UnaryResponse>;

export interface GrpcUnaryFastPathOptions {
  /**
   * The same chain as the connect-node path minus its deadline interceptor: this path answers
   * at the deadline itself.
   */
  readonly interceptors: readonly Interceptor[];
  readMaxBytes: number;
  writeMaxBytes: number;
  /** Context values for a call (the peer identity), from its HTTP/2 stream. */
  contextValues?: (stream: ServerHttp2Stream) => ContextValues;
  /** Every call in flight registers here; shutdown calls each with its reason. */
  inFlight: Set<(reason: ConnectError) => void>;
}

// Node timers overflow past this; a longer deadline is no deadline.
const maxTimerMs = 2 ** 31 - 1;
// A completed call aborts its signal with this reason: no DOMException per call.
const completed = new ConnectError("the call has completed", Code.Canceled);

/**
 * Unary gRPC calls (binary, uncompressed) on node:http2's core stream API, without
 * connect-node's per-call async-iterable pipeline, web Headers and DOMException. The same
 * interceptors run (errors, deadline, allow-list, validation), so the behaviour matches the
 * connect-node path; everything else (gRPC-Web, Connect, compression, streaming) returns false
 * and goes there. Returns whether it took the stream.
 */
export function createGrpcUnaryFastPath(
  bindings: readonly ServiceBinding[],
  options: GrpcUnaryFastPathOptions,
): (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => boolean {
  const routes = new Map<string, { method: DescMethodUnary; impl: UnaryFn }>();
  for (const { service, impl } of bindings) {
    for (const method of service.methods) {
      const fn = impl[method.localName];
      if (method.methodKind === "unary" && typeof fn === "function") {
        routes.set(`/${service.typeName}/${method.name}`, { method: method as DescMethodUnary, impl: (fn as UnaryFn).bind(impl) });
      }
    }
  }
  return (stream, headers) => {
    const route = routes.get(headers[":path"] ?? "");
    const contentType = headers["content-type"];
    const encoding = headers["grpc-encoding"];
    if (
      route === undefined ||
      headers[":method"] !== "POST" ||
      (contentType !== "application/grpc" && contentType !== "application/grpc+proto") ||
      (encoding !== undefined && encoding !== "identity")
    ) {
      return false;
    }
    serve(stream, headers, route.method, route.impl, options);
    return true;
  };
}

function serve(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, method: DescMethodUnary, impl: UnaryFn, options: GrpcUnaryFastPathOptions): void {
  // The signal is made only when someone reads it: most handlers never do, and an
  // AbortController plus its abort event per call is a large share of a small call's cost.
  let controller: AbortController | undefined;
  let finished = false;
  let timer: NodeJS.Timeout | undefined;
  const signal = (): AbortSignal => {
    if (controller === undefined) {
      controller = new AbortController();
      if (finished) controller.abort(completed);
    }
    return controller.signal;
  };
  const finish = (): void => {
    finished = true;
    clearTimeout(timer);
    options.inFlight.delete(fail);
    controller?.abort(completed);
  };
  // Deadline, shutdown: answer now, whatever the handler is doing; its result is dropped.
  function fail(reason: ConnectError): void {
    if (finished) return;
    controller?.abort(reason);
    sendError(stream, reason);
    finish();
  }
  options.inFlight.add(fail);
  // A peer resetting the stream must not become an uncaught 'error'.
  stream.on("error", () => {});
  stream.once("close", () => {
    if (!finished) {
      controller?.abort(new ConnectError("the client cancelled the call", Code.Canceled));
      finish();
    }
  });

  const timeout = parseTimeout(typeof headers["grpc-timeout"] === "string" ? headers["grpc-timeout"] : null, Number.MAX_SAFE_INTEGER);
  if (timeout.error !== undefined) {
    fail(timeout.error);
    return;
  }
  const timeoutMs = timeout.timeoutMs !== undefined && timeout.timeoutMs <= maxTimerMs ? timeout.timeoutMs : undefined;
  const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  if (timeoutMs !== undefined) {
    timer = setTimeout(() => fail(new ConnectError("the operation timed out", Code.DeadlineExceeded)), timeoutMs);
  }

  const chunks: Buffer[] = [];
  let size = 0;
  stream.on("data", (chunk: Buffer) => {
    size += chunk.length;
    if (size > options.readMaxBytes + 5) {
      fail(new ConnectError(`message larger than ${options.readMaxBytes} bytes`, Code.ResourceExhausted));
      return;
    }
    chunks.push(chunk);
  });
  stream.once("end", () => {
    if (finished) return;
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    let request: unknown;
    try {
      request = decodeUnaryRequest(body, method.input, options.readMaxBytes);
    } catch (error) {
      fail(toConnectError(error));
      return;
    }
    const { context, written } = createContext(stream, headers, method, signal, deadline, options);
    call(request, context, method, impl, options.interceptors).then(
      (message) => {
        if (finished) return;
        const bytes = toBinary(method.output, message);
        if (bytes.length > options.writeMaxBytes) {
          fail(new ConnectError(`response larger than ${options.writeMaxBytes} bytes`, Code.ResourceExhausted));
          return;
        }
        const { header, trailer } = written();
        sendMessage(stream, bytes, header, trailer);
        finish();
      },
      (error: unknown) => {
        if (finished) return;
        sendError(stream, toConnectError(error), written().header);
        finish();
      },
    );
  });
}

function decodeUnaryRequest(body: Buffer, schema: DescMessage, readMaxBytes: number): unknown {
  if (body.length < 5) {
    throw new ConnectError("protocol error: missing input message for unary method", Code.InvalidArgument);
  }
  const flags = body.readUInt8(0);
  const length = body.readUInt32BE(1);
  if (flags !== 0) {
    throw new ConnectError("received a compressed or flagged message without grpc-encoding", Code.InvalidArgument);
  }
  if (length > readMaxBytes) {
    throw new ConnectError(`message larger than ${readMaxBytes} bytes`, Code.ResourceExhausted);
  }
  if (body.length !== 5 + length) {
    throw new ConnectError("protocol error: a unary request needs exactly one whole message", Code.InvalidArgument);
  }
  try {
    return fromBinary(schema, body.subarray(5));
  } catch (error) {
    throw new ConnectError(`parse binary: ${error instanceof Error ? error.message : String(error)}`, Code.InvalidArgument);
  }
}

function call(
  message: unknown,
  context: HandlerContext,
  method: DescMethodUnary,
  impl: UnaryFn,
  interceptors: readonly Interceptor[],
): Promise<UnaryResponse["message"]> {
  const next: Next = async (req) => {
    const output = await impl(req.message, context);
    return {
      stream: false,
      service: method.parent,
      method,
      // Interceptors that touch them get the context's; untouched, none are made.
      get header() {
        return context.responseHeader;
      },
      get trailer() {
        return context.responseTrailer;
      },
      message: isMessage(output, method.output) ? output : create(method.output, output as never),
    };
  };
  const chain = interceptors.reduceRight<Next>((inner, interceptor) => interceptor(inner as never) as Next, next);
  return chain({
    stream: false,
    service: method.parent,
    method,
    requestMethod: "POST",
    url: context.url,
    get signal() {
      return context.signal;
    },
    get header() {
      return context.requestHeader;
    },
    contextValues: context.values,
    message,
  } as UnaryRequest).then((response) => response.message);
}

// A HandlerContext whose Headers objects are built only when someone reads them.
function createContext(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  method: DescMethod,
  signal: () => AbortSignal,
  deadline: number | undefined,
  options: GrpcUnaryFastPathOptions,
): { context: HandlerContext; written: () => { header: Headers | undefined; trailer: Headers | undefined } } {
  let requestHeader: Headers | undefined;
  let responseHeader: Headers | undefined;
  let responseTrailer: Headers | undefined;
  const context: HandlerContext = {
    method,
    service: method.parent,
    get signal() {
      return signal();
    },
    requestMethod: "POST",
    protocolName: "grpc",
    url: `http://${headers[":authority"] ?? "localhost"}${headers[":path"] ?? ""}`,
    values: options.contextValues?.(stream) ?? createContextValues(),
    timeoutMs: () => (deadline === undefined ? undefined : deadline - Date.now()),
    get requestHeader() {
      return (requestHeader ??= toWebHeaders(headers));
    },
    get responseHeader() {
      return (responseHeader ??= new Headers());
    },
    get responseTrailer() {
      return (responseTrailer ??= new Headers());
    },
  };
  // What the handler or an interceptor set, without creating empty Headers to find out.
  return { context, written: () => ({ header: responseHeader, trailer: responseTrailer }) };
}

function toWebHeaders(headers: IncomingHttpHeaders): Headers {
  const result = new Headers();
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith(":") || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) result.append(key, v);
  }
  return result;
}

function toNodeHeaders(headers: Headers | undefined, into: Record<string, string | string[]>): Record<string, string | string[]> {
  headers?.forEach((value, key) => {
    into[key] = value;
  });
  return into;
}

function sendMessage(stream: ServerHttp2Stream, bytes: Uint8Array, header: Headers | undefined, trailer: Headers | undefined): void {
  if (stream.destroyed || stream.closed) return;
  const frame = Buffer.allocUnsafe(5 + bytes.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(bytes.length, 1);
  frame.set(bytes, 5);
  stream.respond(toNodeHeaders(header, { ":status": "200", "content-type": "application/grpc" }), { waitForTrailers: true });
  stream.once("wantTrailers", () => stream.sendTrailers(toNodeHeaders(trailer, { "grpc-status": "0" })));
  stream.end(frame);
}

// A trailers-only response, as gRPC sends errors that happen before any message.
function sendError(stream: ServerHttp2Stream, error: ConnectError, header?: Headers): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  const status = new Headers();
  setTrailerStatus(status, error);
  // gRPC percent-encodes only what is not printable ASCII (and "%"); connect's
  // encodeURIComponent would show grpc-js users "%3A" for every colon.
  status.set("grpc-message", encodeGrpcMessage(error.rawMessage));
  const all = toNodeHeaders(header, { ":status": "200", "content-type": "application/grpc" });
  stream.respond(toNodeHeaders(status, all), { endStream: true });
}

function encodeGrpcMessage(message: string): string {
  return Array.from(Buffer.from(message, "utf8"), (byte) =>
    byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`,
  ).join("");
}
