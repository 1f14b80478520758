import { ConnectError, type StreamRequest, type StreamResponse, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { context, createContextKey, propagation, SpanKind, trace, type Attributes } from "@opentelemetry/api";
import type { ClientEvent, ClientTelemetry, ObservedClient } from "@protomesh/clients";
import { endRpcSpan, OK } from "./rpc-server.js";
import { headersSetter, type TelemetryScope } from "./scope.js";

type Request = UnaryRequest | StreamRequest;
type Report = (value: number, attributes: Attributes) => void;
type Response = UnaryResponse | StreamResponse;

// Attempts of the call in progress, counted in its context so each attempt span knows its number.
const attemptsKey = createContextKey("protomesh attempts of the call");

const circuitStates = { closed: 0, "half-open": 1, open: 2 } as const;

/**
 * A service's telemetry for the calls it makes: an INTERNAL span per call with a CLIENT span per
 * attempt under it (the attempt's context is what the server continues), rpc.client.duration per
 * call, and the client's retries, ejections and circuits from its events. A client reports to
 * the first service that calls through it.
 */
export class ClientCallTelemetry implements ClientTelemetry {
  private readonly clients = new Set<ObservedClient>();
  private readonly circuits = new Map<string, { target: string; state: number }>();

  constructor(private readonly scope: TelemetryScope) {}

  async call(req: Request, next: (req: Request) => Promise<Response>, client: ObservedClient): Promise<Response> {
    this.attach(client);
    const start = performance.now();
    const attributes: Attributes = { "rpc.system": "grpc", "rpc.service": req.service.typeName, "rpc.method": req.method.name, "server.address": client.target };
    const parent = context.active();
    const span = this.scope.tracer?.startSpan(`${req.service.typeName}/${req.method.name}`, { kind: SpanKind.INTERNAL, attributes }, parent);
    const attempts = { count: 0 };
    const finish = (code: number, error?: ConnectError) => {
      this.scope.instruments?.rpcClientDuration.record(performance.now() - start, { ...attributes, "rpc.grpc.status_code": code });
      if (span !== undefined) {
        span.setAttribute("protomesh.rpc.attempts", attempts.count);
        endRpcSpan(span, code, error, code !== OK);
      }
    };
    try {
      const ctx = (span === undefined ? parent : trace.setSpan(parent, span)).setValue(attemptsKey, attempts);
      const res = await context.with(ctx, () => next(req));
      finish(OK);
      return res;
    } catch (error) {
      const connectError = ConnectError.from(error);
      finish(connectError.code, connectError);
      throw error;
    }
  }

  async attempt(req: Request, next: (req: Request) => Promise<Response>): Promise<Response> {
    const active = context.active();
    const attempts = active.getValue(attemptsKey) as { count: number } | undefined;
    const number = attempts === undefined ? 1 : ++attempts.count;
    const tracer = this.scope.tracer;
    if (tracer === undefined) {
      // Metrics only: still carry baggage (the saga's origin) downstream.
      propagation.inject(active, req.header, headersSetter);
      return next(req);
    }
    const span = tracer.startSpan(
      `${req.service.typeName}/${req.method.name}`,
      { kind: SpanKind.CLIENT, attributes: { "rpc.system": "grpc", "rpc.service": req.service.typeName, "rpc.method": req.method.name, "protomesh.rpc.attempt": number } },
      active,
    );
    const ctx = trace.setSpan(active, span);
    // Each attempt replaces the previous one's traceparent: the server continues this attempt.
    propagation.inject(ctx, req.header, headersSetter);
    try {
      const res = await next(req);
      endRpcSpan(span, OK, undefined, false);
      return res;
    } catch (error) {
      const connectError = ConnectError.from(error);
      endRpcSpan(span, connectError.code, connectError, true);
      throw error;
    }
  }

  /** Reports every attached client's endpoints (1 admitted, 0 not) and circuits (0 closed, 1 half-open, 2 open). */
  observe(endpoints: Report, circuits: Report): void {
    for (const client of this.clients) {
      for (const endpoint of client.snapshot()) {
        endpoints(endpoint.admitted ? 1 : 0, { "protomesh.client.target": client.target, "server.address": endpoint.address, "protomesh.endpoint.health": endpoint.health });
      }
    }
    for (const [circuit, { target, state }] of this.circuits) {
      circuits(state, { "protomesh.client.target": target, "protomesh.circuit": circuit });
    }
  }

  private attach(client: ObservedClient): void {
    if (this.clients.has(client)) return;
    this.clients.add(client);
    client.events.on((event) => this.record(client.target, event));
  }

  private record(target: string, event: ClientEvent): void {
    const instruments = this.scope.instruments;
    switch (event.type) {
      case "retry":
        instruments?.clientRetries.add(1, { "protomesh.client.target": target, "rpc.method": event.method, "rpc.grpc.status_code": event.code });
        trace.getActiveSpan()?.addEvent("retry", { "protomesh.rpc.attempt": event.attempt, "protomesh.retry.delay_ms": event.delayMs, "rpc.grpc.status_code": event.code });
        break;
      case "retry-budget-exhausted":
        instruments?.clientRetryBudgetExhausted.add(1, { "protomesh.client.target": target, "rpc.method": event.method });
        break;
      case "endpoint-ejected":
        instruments?.clientEjections.add(1, { "protomesh.client.target": target, "server.address": event.address, "protomesh.ejection.reason": event.reason });
        break;
      case "circuit-opened":
      case "circuit-half-open":
      case "circuit-closed": {
        const state = event.type === "circuit-opened" ? "open" : event.type === "circuit-half-open" ? "half-open" : "closed";
        this.circuits.set(event.key, { target, state: circuitStates[state] });
        instruments?.circuitTransitions.add(1, { "protomesh.client.target": target, "protomesh.circuit": event.key, "protomesh.circuit.state": state });
        break;
      }
      default:
        break;
    }
  }
}
