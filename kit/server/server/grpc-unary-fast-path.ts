import { type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import { create, fromBinary, isMessage, type DescMessage, type DescMethodUnary, type DescService, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext, type Interceptor, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { parseTimeout } from "@connectrpc/connect/protocol-grpc";
import { isUnexpected, toConnectError } from "../errors/to-connect-error.js";
import type { RequestMemory } from "./admission.js";
import { grpcErrorHeaders, resetAfterAnswer } from "./early-response.js";
import { encodeGrpcFrame } from "./grpc-frame-encoder.js";
import type { IdRegistry } from "./id-registry.js";
import type { UnexpectedErrorHandler } from "./interceptors/error-mapping.js";
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
  /**
   * Every call in flight registers here by its id; shutdown fails each with its reason. Not a
   * Set: its replaced hash tables would keep finished calls alive (IdRegistry says why).
   */
  inFlight: IdRegistry<InFlightCall>;
  /** The server's budget for request bytes still arriving; a call past it answers Unavailable. */
  requestMemory: RequestMemory;
  /**
   * Receives what fails outside the interceptors (writing the answer) and had to become
   * Internal; what the chain threw was reported by its error mapping already.
   */
  onUnexpectedError: UnexpectedErrorHandler;
}

/** A call the server can end at shutdown. */
export interface InFlightCall {
  fail(reason: ConnectError): void;
}

interface Route {
  readonly method: DescMethodUnary;
  readonly impl: UnaryFn;
}

// What most calls answer with, shared: node:http2 copies headers it is given (frozen, so a
// change in that would fail loudly rather than leak one call's headers into the next).
const okHeaders = Object.freeze({ ":status": "200", "content-type": "application/grpc" });
const okTrailers = Object.freeze({ "grpc-status": "0" });
const waitForTrailers = Object.freeze({ waitForTrailers: true });

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
  const routes = new Map<string, Route>();
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
    new UnaryCall(stream, headers, route, options).start();
    return true;
  };
}

// The stream's listeners are shared functions that find their call here, so a call costs one
// object instead of a closure per listener.
const callOf = Symbol("grpcUnaryCall");
type CallStream = ServerHttp2Stream & { [callOf]?: UnaryCall | undefined };

// A peer resetting the stream must not become an uncaught 'error'.
function ignoreError(): void {}

function onData(this: CallStream, chunk: Buffer): void {
  this[callOf]?.receive(chunk);
}

function onEnd(this: CallStream): void {
  void this[callOf]?.run();
}

// A stream can outlive its call past a collection of the young generation (node:http2 releases
// it later), and whatever it references is then copied and promoted with it; while a finished
// call stayed reachable from its stream, more of each call survived the collector than with
// Nest's built-in gRPC transport (docs/benchmarks.md). So the stream lets go of the call as soon
// as the call has nothing more to send.
function onClose(this: CallStream): void {
  this[callOf]?.cancel();
  this[callOf] = undefined;
}

function onWantTrailers(this: CallStream): void {
  const trailer = this[callOf]?.responseTrailer;
  this[callOf] = undefined;
  this.sendTrailers(trailer === undefined ? okTrailers : toNodeHeaders(trailer, { "grpc-status": "0" }));
}

// Ids of calls, in the order they started (the in-flight registry's key).
let lastCallId = 0;

class UnaryCall implements InFlightCall {
  readonly id = ++lastCallId;
  // The signal is made only when someone reads it: most handlers never do, and an
  // AbortController plus its abort event per call is a large share of a small call's cost.
  private controller: AbortController | undefined;
  private finished = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  deadline: number | undefined;
  // Built only when read: most calls never touch them.
  requestHeader: Headers | undefined;
  responseHeader: Headers | undefined;
  responseTrailer: Headers | undefined;

  constructor(
    readonly stream: CallStream,
    readonly headers: IncomingHttpHeaders,
    readonly route: Route,
    readonly options: GrpcUnaryFastPathOptions,
  ) {}

  start(): void {
    const { stream, headers, options } = this;
    stream[callOf] = this;
    options.inFlight.set(this.id, this);
    // 'close', 'end' and 'wantTrailers' come at most once per stream: `on` spares once's wrapper.
    stream.on("error", ignoreError);
    stream.on("close", onClose);
    const grpcTimeout = headers["grpc-timeout"];
    if (typeof grpcTimeout === "string") {
      const timeout = parseTimeout(grpcTimeout, Number.MAX_SAFE_INTEGER);
      if (timeout.error !== undefined) {
        this.fail(timeout.error);
        return;
      }
      if (timeout.timeoutMs !== undefined && timeout.timeoutMs <= maxTimerMs) {
        this.deadline = Date.now() + timeout.timeoutMs;
        this.timer = setTimeout(() => this.fail(new ConnectError("the operation timed out", Code.DeadlineExceeded)), timeout.timeoutMs);
      }
    }
    stream.on("data", onData);
    stream.on("end", onEnd);
  }

  signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.finished) this.controller.abort(completed);
    }
    return this.controller.signal;
  }

  receive(chunk: Buffer): void {
    if (this.finished) return;
    const { options } = this;
    if (this.size + chunk.length > options.readMaxBytes + 5) {
      this.fail(new ConnectError(`message larger than ${options.readMaxBytes} bytes`, Code.ResourceExhausted));
      return;
    }
    if (!options.requestMemory.take(chunk.length)) {
      this.fail(options.requestMemory.exhausted);
      return;
    }
    this.size += chunk.length;
    this.chunks.push(chunk);
  }

  async run(): Promise<void> {
    // A stream closed before its request ended was answered by the server's bounds.
    if (this.finished || this.stream.closed) return;
    const { method, impl } = this.route;
    const { chunks, options } = this;
    let frame: Buffer;
    try {
      const request = decodeUnaryRequest(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), method.input, options.readMaxBytes);
      const response = await call(request, this, impl, options.interceptors);
      if (this.finished) return;
      // The handler's own answer as it gave it, unless an interceptor put another in its place.
      frame = encodeGrpcFrame(method.output, response instanceof FastUnaryResponse ? response.body() : response.message);
    } catch (error) {
      if (this.finished) return;
      const mapped = toConnectError(error);
      if (mapped !== error && isUnexpected(mapped)) options.onUnexpectedError(mapped, `${method.parent.typeName}/${method.name}`);
      sendError(this.stream, mapped, this.responseHeader);
      this.finish();
      return;
    }
    if (frame.length - 5 > options.writeMaxBytes) {
      this.fail(new ConnectError(`response larger than ${options.writeMaxBytes} bytes`, Code.ResourceExhausted));
      return;
    }
    sendMessage(this.stream, frame, this.responseHeader);
    this.finish();
  }

  // Deadline, shutdown: answer now, whatever the handler is doing; its result is dropped.
  fail(reason: ConnectError): void {
    if (this.finished) return;
    this.controller?.abort(reason);
    sendError(this.stream, reason);
    // A request still arriving (too large, over the memory bound) is not read any further.
    if (!this.stream.readableEnded && !this.stream.closed) resetAfterAnswer(this.stream);
    this.finish();
  }

  cancel(): void {
    if (this.finished) return;
    this.controller?.abort(new ConnectError("the client cancelled the call", Code.Canceled));
    this.finish();
  }

  private finish(): void {
    this.finished = true;
    clearTimeout(this.timer);
    this.options.inFlight.delete(this.id);
    this.controller?.abort(completed);
    this.options.requestMemory.release(this.size);
    this.size = 0;
    // Until the stream lets go (above), keep only what the trailers need.
    this.chunks.length = 0;
    this.requestHeader = undefined;
  }
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

function call(message: unknown, unaryCall: UnaryCall, impl: UnaryFn, interceptors: readonly Interceptor[]): Promise<UnaryResponse> {
  const context = new FastHandlerContext(unaryCall);
  const next: Next = async (req) => FastUnaryResponse.create(context, await impl(req.message, context));
  let chain = next;
  for (let i = interceptors.length - 1; i >= 0; i--) chain = (interceptors[i] as Interceptor)(chain as never) as Next;
  return chain(FastUnaryRequest.create(context, message));
}

// The request and the response the interceptors see. Their headers, signal, context values, URL
// and message are own enumerable getters, as connect-node's are own properties, so that an
// interceptor's `next({ ...req, message })` carries them on. The getter functions are shared:
// object literals with getters made new functions every call, and V8 then kept those calls'
// objects alive past collections of the young generation (docs/benchmarks.md).

// Headers, the signal, the context values and the URL are the context's, made only when read.
class FastUnaryRequest {
  readonly stream = false;
  readonly requestMethod = "POST";
  readonly service: DescService;
  readonly method: DescMethodUnary;
  readonly #context: FastHandlerContext;

  static readonly #getters: PropertyDescriptorMap = {
    url: { enumerable: true, get: function (this: FastUnaryRequest) { return this.#context.url; } },
    signal: { enumerable: true, get: function (this: FastUnaryRequest) { return this.#context.signal; } },
    header: { enumerable: true, get: function (this: FastUnaryRequest) { return this.#context.requestHeader; } },
    contextValues: { enumerable: true, get: function (this: FastUnaryRequest) { return this.#context.values; } },
  };

  static create(context: FastHandlerContext, message: unknown): UnaryRequest {
    return Object.defineProperties(new FastUnaryRequest(context, message), FastUnaryRequest.#getters) as unknown as UnaryRequest;
  }

  private constructor(
    context: FastHandlerContext,
    readonly message: unknown,
  ) {
    this.#context = context;
    this.service = context.service;
    this.method = context.method;
  }
}

// Interceptors that touch the headers get the context's; untouched, none are made. A handler may
// answer with an init object: it becomes a message only when an interceptor reads it; otherwise
// the frame is written from the init object itself.
class FastUnaryResponse {
  readonly stream = false;
  readonly service: DescService;
  readonly method: DescMethodUnary;
  readonly #context: FastHandlerContext;
  readonly #output: unknown;
  #made: Message | undefined;

  static readonly #getters: PropertyDescriptorMap = {
    header: { enumerable: true, get: function (this: FastUnaryResponse) { return this.#context.responseHeader; } },
    trailer: { enumerable: true, get: function (this: FastUnaryResponse) { return this.#context.responseTrailer; } },
    message: { enumerable: true, get: function (this: FastUnaryResponse) { return this.#message(); } },
  };

  static create(context: FastHandlerContext, output: unknown): UnaryResponse {
    return Object.defineProperties(new FastUnaryResponse(context, output), FastUnaryResponse.#getters) as unknown as UnaryResponse;
  }

  private constructor(context: FastHandlerContext, output: unknown) {
    this.#context = context;
    this.#output = output;
    this.service = context.service;
    this.method = context.method;
  }

  /**
   * What the frame is written from: the message if an interceptor made it, else the handler's
   * init object itself. Anything but an object (a handler's mistake) goes through create().
   */
  body(): Message | Record<string, unknown> {
    const output = this.#output;
    return this.#made ?? (typeof output === "object" && output !== null ? (output as Record<string, unknown>) : this.#message());
  }

  #message(): Message {
    const output = this.#output;
    return (this.#made ??= isMessage(output, this.method.output) ? output : create(this.method.output, output as never));
  }
}

// The HandlerContext of a call: Headers, the signal, the context values and the URL are made
// only when read.
class FastHandlerContext implements HandlerContext {
  readonly method: DescMethodUnary;
  readonly service: DescService;
  readonly requestMethod = "POST";
  readonly protocolName = "grpc";
  readonly timeoutMs: () => number | undefined;
  readonly #call: UnaryCall;
  #values: ContextValues | undefined;

  constructor(call: UnaryCall) {
    this.#call = call;
    this.method = call.route.method;
    this.service = call.route.method.parent;
    const deadline = call.deadline;
    this.timeoutMs = deadline === undefined ? noDeadline : () => deadline - Date.now();
  }

  get values(): ContextValues {
    return (this.#values ??= this.#call.options.contextValues?.(this.#call.stream) ?? createContextValues());
  }

  get url(): string {
    const headers = this.#call.headers;
    return `http://${headers[":authority"] ?? "localhost"}${headers[":path"] ?? ""}`;
  }

  get signal(): AbortSignal {
    return this.#call.signal();
  }

  get requestHeader(): Headers {
    return (this.#call.requestHeader ??= toWebHeaders(this.#call.headers));
  }

  get responseHeader(): Headers {
    return (this.#call.responseHeader ??= new Headers());
  }

  get responseTrailer(): Headers {
    return (this.#call.responseTrailer ??= new Headers());
  }
}

function noDeadline(): undefined {
  return undefined;
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

function sendMessage(stream: CallStream, frame: Buffer, header: Headers | undefined): void {
  if (stream.destroyed || stream.closed) return;
  stream.respond(header === undefined ? okHeaders : toNodeHeaders(header, { ":status": "200", "content-type": "application/grpc" }), waitForTrailers);
  stream.on("wantTrailers", onWantTrailers);
  stream.end(frame);
}

// A trailers-only response, as gRPC sends errors that happen before any message.
function sendError(stream: ServerHttp2Stream, error: ConnectError, header?: Headers): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  stream.respond(grpcErrorHeaders(error, toNodeHeaders(header, { ":status": "200", "content-type": "application/grpc" })), { endStream: true });
}
