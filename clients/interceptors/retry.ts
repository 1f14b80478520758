import type { DescField, DescMessage, DescMethod } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Interceptor, type UnaryRequest } from "@connectrpc/connect";
import { ExponentialBackoff, fullJitterGenerator, type IBackoff } from "cockatiel";
import { ATTEMPT_HEADER, type AttemptLedger } from "../balancer/attempt-ledger.js";
import { deadlineKey } from "../deadline-context.js";
import type { ClientEvents } from "../events.js";
import { isCallNotSentError } from "../balancer/call-not-sent-error.js";
import type { RetryBudget } from "../resilience/retry-budget.js";
import { writeGrpcTimeout } from "./grpc-timeout.js";

export interface RetryOptions {
  /** Attempts per call, the first included (gRPC core: retryPolicy.maxAttempts, capped at 5). */
  maxAttempts: number;
  /** Upper bound of the first backoff; each delay is drawn at random below its bound (gRPC core: initialBackoff). */
  initialBackoffMs: number;
  /** Cap of the bound (gRPC core: maxBackoff). */
  maxBackoffMs: number;
  /** Growth of the bound per retry (gRPC core: backoffMultiplier). */
  backoffMultiplier: number;
  /** Codes that are retried (gRPC core: retryableStatusCodes). */
  retryableCodes: readonly Code[];
  /** Abandons an attempt after this long and retries elsewhere (Envoy: per_try_timeout; gRPC core has none). */
  perAttemptTimeoutMs: number | undefined;
  /** Request header that marks a call as safe to retry, whatever its method's idempotency level. */
  idempotencyHeader: string;
}

export interface RetryDeps {
  budget: RetryBudget;
  events: ClientEvents;
  /** Tells the balancer which endpoints a call already tried, so a retry goes elsewhere. */
  ledger?: AttemptLedger | undefined;
}

/** Marks the error of an attempt this interceptor abandoned (per-attempt timeout). */
const ATTEMPT_TIMEOUT = Symbol("attempt-timeout");

/**
 * Retries unary calls that are safe to repeat: the method's idempotency_level is NO_SIDE_EFFECTS
 * or IDEMPOTENT, or the call carries an idempotency key (the `idempotencyHeader` header, or a
 * non-empty `idempotency_key` field in the request). Only `retryableCodes` are retried, with
 * exponential backoff and full jitter, within the retry budget and never past the deadline; a
 * server's grpc-retry-pushback-ms replaces the backoff, and a negative one stops retries.
 * Streams are never retried: a consumed request stream cannot be replayed.
 */
export function retryInterceptor(options: RetryOptions, deps: RetryDeps): Interceptor {
  const backoff = new ExponentialBackoff({
    initialDelay: options.initialBackoffMs,
    maxDelay: options.maxBackoffMs,
    exponent: options.backoffMultiplier,
    generator: fullJitterGenerator,
  });
  return (next) => async (req) => {
    if (req.stream) {
      return next(req);
    }
    deps.budget.deposit();
    if (options.maxAttempts < 2 || !mayRetry(req, options.idempotencyHeader)) {
      return next(req);
    }
    const ledgerId = deps.ledger?.open()[0];
    if (ledgerId !== undefined) {
      req.header.set(ATTEMPT_HEADER, ledgerId);
    }
    let delays: IBackoff<unknown> | undefined;
    try {
      for (let attempt = 1; ; attempt++) {
        const deadline = req.contextValues.get(deadlineKey);
        try {
          return await attemptOnce(req, next, deadline, options.perAttemptTimeoutMs);
        } catch (e) {
          const error = ConnectError.from(e);
          const retryable =
            options.retryableCodes.includes(error.code) || refusedStream(error) || (error.cause === ATTEMPT_TIMEOUT && !req.signal.aborted);
          if (attempt >= options.maxAttempts || !retryable || req.signal.aborted || closedClient(error)) {
            throw error;
          }
          const pushback = readPushback(error);
          if (pushback === "stop") {
            throw error;
          }
          delays = delays === undefined ? backoff.next() : delays.next(undefined);
          const delayMs = pushback ?? delays.duration;
          if (deadline !== undefined && Date.now() + delayMs >= deadline) {
            throw error;
          }
          if (!deps.budget.tryWithdraw()) {
            deps.events.emit({ type: "retry-budget-exhausted", method: methodName(req.method) });
            throw error;
          }
          deps.events.emit({ type: "retry", method: methodName(req.method), attempt: attempt + 1, delayMs, code: error.code });
          await sleep(delayMs, req.signal);
        }
      }
    } finally {
      if (ledgerId !== undefined) {
        deps.ledger?.close(ledgerId);
      }
    }
  };
}

type Next = Parameters<Interceptor>[0];

async function attemptOnce(req: UnaryRequest, next: Next, deadline: number | undefined, perAttemptMs: number | undefined) {
  const remaining = deadline === undefined ? undefined : deadline - Date.now();
  if (remaining !== undefined && remaining <= 0) {
    throw new ConnectError("deadline exceeded", Code.DeadlineExceeded);
  }
  const budgetMs = perAttemptMs === undefined ? remaining : Math.min(perAttemptMs, remaining ?? perAttemptMs);
  if (budgetMs !== undefined) {
    writeGrpcTimeout(req.header, budgetMs);
  }
  if (perAttemptMs === undefined || budgetMs === remaining) {
    return next(req);
  }
  const controller = new AbortController();
  const onAbort = () => controller.abort(req.signal.reason);
  req.signal.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => {
    controller.abort(new ConnectError(`attempt timed out after ${perAttemptMs} ms`, Code.DeadlineExceeded, undefined, undefined, ATTEMPT_TIMEOUT));
  }, perAttemptMs);
  try {
    return await next({ ...req, signal: controller.signal });
  } finally {
    clearTimeout(timer);
    req.signal.removeEventListener("abort", onAbort);
  }
}

const keyFields = new WeakMap<DescMessage, DescField | null>();

function mayRetry(req: UnaryRequest, idempotencyHeader: string): boolean {
  if (req.method.idempotency !== MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN || req.header.has(idempotencyHeader)) {
    return true;
  }
  let field = keyFields.get(req.method.input);
  if (field === undefined) {
    field = req.method.input.fields.find((f) => f.name === "idempotency_key" && f.fieldKind === "scalar") ?? null;
    keyFields.set(req.method.input, field);
  }
  if (field === null) {
    return false;
  }
  const value: unknown = (req.message as Record<string, unknown>)[field.localName];
  return typeof value === "string" && value !== "";
}

/**
 * A stream the server refused (RST_STREAM REFUSED_STREAM) was never processed. connect-node
 * reports it as Unavailable when it reads the reset code, but as Internal when the stream's
 * error event comes first; both mean the same and are retried like Unavailable.
 */
function closedClient(error: ConnectError): boolean {
  return isCallNotSentError(error) && error.reason === "client-closed";
}

function refusedStream(error: ConnectError): boolean {
  for (let cause: unknown = error.cause, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    if (cause.message.includes("NGHTTP2_REFUSED_STREAM")) {
      return true;
    }
  }
  return false;
}

/** grpc-retry-pushback-ms: a delay in ms, or "stop" when the server says not to retry (gRPC A6). */
function readPushback(error: ConnectError): number | "stop" | undefined {
  const value = error.metadata.get("grpc-retry-pushback-ms");
  if (value === null) {
    return undefined;
  }
  return /^\d+$/.test(value) ? Number(value) : "stop";
}

function methodName(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(ConnectError.from(signal.reason, Code.Canceled));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
