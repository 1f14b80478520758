import { propagation, type Context, type Tracer } from "@opentelemetry/api";
import type { Instruments } from "./instruments.js";

/** What the pieces of one service's telemetry share. Either half may be off. */
export interface TelemetryScope {
  /** Undefined when tracing is off: no span is made. */
  readonly tracer: Tracer | undefined;
  /** Undefined when metrics are off: nothing is recorded. */
  readonly instruments: Instruments | undefined;
  /** `ctx` with this service's telemetry in it, so client calls made under it report here. */
  enter(ctx: Context): Context;
}

/**
 * Baggage entry holding when the request that began a chain of calls and events arrived (epoch
 * ms). It travels with every call, outbox row and message after it, so a saga's last event
 * knows how long the saga took. Set by the first instrumented server the chain reaches.
 */
export const ORIGIN_BAGGAGE_KEY = "protomesh.origin_ms";

export function withOrigin(ctx: Context, now: number): Context {
  const baggage = propagation.getBaggage(ctx);
  if (baggage?.getEntry(ORIGIN_BAGGAGE_KEY) !== undefined) return ctx;
  return propagation.setBaggage(ctx, (baggage ?? propagation.createBaggage()).setEntry(ORIGIN_BAGGAGE_KEY, { value: String(now) }));
}

/** The origin time carried by a context, if any and well-formed. */
export function originOf(ctx: Context): number | undefined {
  const value = propagation.getBaggage(ctx)?.getEntry(ORIGIN_BAGGAGE_KEY)?.value;
  const ms = value === undefined ? Number.NaN : Number(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Reads and writes W3C headers on Fetch `Headers` (Connect's request headers). */
export const headersGetter = {
  get: (carrier: Headers, key: string) => carrier.get(key) ?? undefined,
  keys: (carrier: Headers) => [...carrier.keys()],
};
export const headersSetter = { set: (carrier: Headers, key: string, value: string) => carrier.set(key, value) };
