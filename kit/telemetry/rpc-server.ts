import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import { headersGetter, type TelemetryScope, withOrigin } from "./scope.js";

/** gRPC's OK, which Connect's Code enum leaves out. */
export const OK = 0;

// Codes that mean the server failed, as the RPC semantic conventions mark server spans.
const serverFaults = new Set([Code.Unknown, Code.DeadlineExceeded, Code.Unimplemented, Code.Internal, Code.Unavailable, Code.DataLoss]);

// Health checks (every few seconds from each client and probe) and reflection would bury the
// traces people look for; they are measured, not traced.
const untraced = /^grpc\.(health|reflection)\./;

/**
 * One SERVER span per call (health and reflection calls excepted), continuing the caller's trace (traceparent, baggage), and
 * rpc.server.duration by method and code. Handlers run in the span's context with the
 * service's telemetry, so their client calls and outbox writes join the trace. A streamed
 * response is measured until its last message.
 */
export function serverInterceptor(scope: TelemetryScope): Interceptor {
  return (next) => async (req) => {
    const start = performance.now();
    const attributes = { "rpc.system": "grpc", "rpc.service": req.service.typeName, "rpc.method": req.method.name };
    const parent = withOrigin(propagation.extract(ROOT_CONTEXT, req.header, headersGetter), Date.now());
    const span = untraced.test(req.service.typeName) ? undefined : scope.tracer?.startSpan(`${req.service.typeName}/${req.method.name}`, { kind: SpanKind.SERVER, attributes }, parent);
    const finish = (code: number, error?: ConnectError) => {
      scope.instruments?.rpcServerDuration.record(performance.now() - start, { ...attributes, "rpc.grpc.status_code": code });
      if (span !== undefined) endRpcSpan(span, code, error, serverFaults.has(code));
    };
    try {
      const res = await context.with(scope.enter(span === undefined ? parent : trace.setSpan(parent, span)), () => next(req));
      if (!res.stream) {
        finish(OK);
        return res;
      }
      return { ...res, message: measured(res.message, finish) } satisfies StreamResponse;
    } catch (error) {
      const connectError = ConnectError.from(error);
      finish(connectError.code, connectError);
      throw error;
    }
  };
}

async function* measured<T>(messages: AsyncIterable<T>, finish: (code: number, error?: ConnectError) => void): AsyncIterable<T> {
  try {
    yield* messages;
    finish(OK);
  } catch (error) {
    const connectError = ConnectError.from(error);
    finish(connectError.code, connectError);
    throw error;
  }
}

/** Sets the gRPC code on an RPC span, marks it failed when `failed`, and ends it. */
export function endRpcSpan(span: Span, code: number, error: ConnectError | undefined, failed: boolean): void {
  span.setAttribute("rpc.grpc.status_code", code);
  if (failed) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error?.rawMessage ?? String(code) });
    if (error !== undefined) span.recordException(error);
  }
  span.end();
}
