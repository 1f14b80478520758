import { context, createContextKey } from "@opentelemetry/api";
import type { Interceptor, StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "@connectrpc/connect";
import type { EndpointSnapshot } from "./balancer/balancer.js";
import type { ClientEvents } from "./events.js";

type Request = UnaryRequest | StreamRequest;
type Response = UnaryResponse | StreamResponse;
type Next = (req: Request) => Promise<Response>;

/** What a client shows telemetry about itself: its state changes and its endpoints. */
export interface ObservedClient {
  /** The `target` as configured ("items:50051"), naming the client in metrics. */
  readonly target: string;
  readonly events: ClientEvents;
  snapshot(): EndpointSnapshot[];
}

/**
 * Tracing and metrics for client calls, supplied by the telemetry of the service making the
 * call (@protomesh/telemetry). `call` wraps one call with all its attempts; `attempt` wraps
 * each attempt, inside the retry interceptor, and is where the trace context is injected.
 */
export interface ClientTelemetry {
  call(req: Request, next: Next, client: ObservedClient): Promise<Response>;
  attempt(req: Request, next: Next): Promise<Response>;
}

/**
 * The OpenTelemetry context key under which a service's telemetry travels with its calls and
 * events, so a client used inside a handler reports to that service. Absent (telemetry off),
 * the client interceptors pass calls straight through.
 */
export const clientTelemetryKey = createContextKey("protomesh client telemetry");

function activeClientTelemetry(): ClientTelemetry | undefined {
  return context.active().getValue(clientTelemetryKey) as ClientTelemetry | undefined;
}

/** Outermost client interceptor: one span and one duration per call, retries included. */
export function callTelemetryInterceptor(client: ObservedClient): Interceptor {
  return (next) => (req) => {
    const telemetry = activeClientTelemetry();
    return telemetry === undefined ? next(req) : telemetry.call(req, next, client);
  };
}

/** Innermost client interceptor: one span per attempt, carrying the traceparent the server sees. */
export const attemptTelemetryInterceptor: Interceptor = (next) => (req) => {
  const telemetry = activeClientTelemetry();
  return telemetry === undefined ? next(req) : telemetry.attempt(req, next);
};
