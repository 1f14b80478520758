import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { isCallNotSentError } from "../balancer/call-not-sent-error.js";
import type { ClientEvents } from "../events.js";
import { CircuitBreaker, type BreakerState } from "../resilience/circuit-breaker.js";

/** Answers a unary call whose circuit is open or that failed with a failure code. */
export type Fallback = (error: ConnectError, request: UnaryRequest) => MessageInitShape<DescMessage> | Promise<MessageInitShape<DescMessage>>;

export interface CircuitBreakerOptions {
  /** Consecutive failed calls (after retries) that open a method's circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before a probe; grows with back-to-back openings. */
  openMs: number;
  maxOpenMs: number;
  /** Codes that count as failures; any other outcome from the server counts as success. */
  failureCodes: readonly Code[];
  /** Fallbacks by method name ("QuoteItems"). */
  fallbacks?: Readonly<Record<string, Fallback>> | undefined;
}

/** The error a call gets while its circuit is open; `isCircuitOpenError` tells it apart. */
export class CircuitOpenError extends ConnectError {
  readonly circuitOpen = true;
  constructor(readonly key: string) {
    super(`circuit open for ${key}: failing fast without calling the service`, Code.Unavailable);
  }
}

export function isCircuitOpenError(error: unknown): error is CircuitOpenError {
  return typeof error === "object" && error !== null && (error as { circuitOpen?: unknown }).circuitOpen === true;
}

/**
 * One circuit per method. An open circuit fails calls at once with Unavailable (or answers them
 * with the method's fallback) and sends nothing; after the open time one probe goes through and
 * its outcome closes or reopens the circuit. A call cancelled by its caller, and a call no server
 * received (`isCallNotSentError`: every endpoint down or ejected), count for nothing: a probe that
 * ends so is released, not failed. An endpoint readmitted by the balancer ends every open time at
 * once, so calls resume with the service rather than when the open time runs out.
 */
export function circuitBreakerInterceptor(options: CircuitBreakerOptions, events: ClientEvents): Interceptor {
  const circuits = new Map<string, CircuitBreaker>();
  const circuitFor = (key: string) => {
    let breaker = circuits.get(key);
    if (breaker === undefined) {
      breaker = new CircuitBreaker({
        failureThreshold: options.failureThreshold,
        openMs: options.openMs,
        maxOpenMs: options.maxOpenMs,
        onTransition: (state) => events.emit(transitionEvent(key, state)),
      });
      circuits.set(key, breaker);
    }
    return breaker;
  };
  events.on((event) => {
    if (event.type === "endpoint-readmitted") {
      for (const breaker of circuits.values()) {
        breaker.probeNow();
      }
    }
  });
  return (next) => async (req) => {
    const key = `${req.service.typeName}/${req.method.name}`;
    const breaker = circuitFor(key);
    const permit = breaker.acquire();
    const fallback = req.stream ? undefined : options.fallbacks?.[req.method.name];
    if (permit === "reject") {
      const error = new CircuitOpenError(key);
      if (fallback !== undefined && !req.stream) {
        return answer(req, await fallback(error, req));
      }
      throw error;
    }
    try {
      const res = await next(req);
      breaker.onSuccess();
      return res;
    } catch (e) {
      const error = ConnectError.from(e);
      const failed = options.failureCodes.includes(error.code);
      if (isCallNotSentError(error) || (!failed && error.code === Code.Canceled)) {
        if (permit === "probe") {
          breaker.onNeutral();
        }
      } else if (failed) {
        breaker.onFailure();
      } else {
        breaker.onSuccess();
      }
      if (failed && fallback !== undefined && !req.stream) {
        return answer(req, await fallback(error, req));
      }
      throw error;
    }
  };
}

function answer(req: UnaryRequest, init: MessageInitShape<DescMessage>): UnaryResponse {
  return {
    stream: false,
    service: req.service,
    method: req.method,
    header: new Headers(),
    trailer: new Headers(),
    message: create(req.method.output, init),
  };
}

function transitionEvent(key: string, state: BreakerState) {
  switch (state.kind) {
    case "open":
      return { type: "circuit-opened", key, durationMs: state.until - Date.now() } as const;
    case "half-open":
      return { type: "circuit-half-open", key } as const;
    case "closed":
      return { type: "circuit-closed", key } as const;
  }
}
