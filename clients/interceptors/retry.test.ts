import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Code, ConnectError, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { type ClientEvent, deadlineKey, RetryBudget, retryInterceptor, type RetryOptions } from "@protomesh/clients";
import { methods, settle, unaryRequest, unaryResponse } from "../../test/clients/helpers/requests.js";
import { ClientEvents } from "../events.js";

const options: RetryOptions = {
  maxAttempts: 3,
  initialBackoffMs: 50,
  maxBackoffMs: 1_000,
  backoffMultiplier: 2,
  retryableCodes: [Code.Unavailable],
  perAttemptTimeoutMs: undefined,
  idempotencyHeader: "idempotency-key",
};

type Outcome = Code | "ok" | ((req: UnaryRequest) => Promise<UnaryResponse>);

function setup(outcomes: Outcome[], overrides: Partial<RetryOptions> = {}, budget = new RetryBudget({ minRetriesPerSecond: 100 })) {
  const events: ClientEvent[] = [];
  const bus = new ClientEvents();
  bus.on((e) => events.push(e));
  const seen: { at: number; timeout: string | null }[] = [];
  const next = vi.fn(async (req: UnaryRequest): Promise<UnaryResponse> => {
    seen.push({ at: Date.now(), timeout: req.header.get("grpc-timeout") });
    const outcome = outcomes.shift() ?? "ok";
    if (typeof outcome === "function") {
      return outcome(req);
    }
    if (outcome === "ok") {
      return unaryResponse(req);
    }
    throw new ConnectError("injected", outcome);
  });
  const call = retryInterceptor({ ...options, ...overrides }, { budget, events: bus })(next as never) as (req: UnaryRequest) => Promise<UnaryResponse>;
  return { call, next, events, seen };
}

describe("retry interceptor", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(0.999);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it("retries Unavailable on an idempotent method with growing, jittered backoff", async () => {
    const { call, seen } = setup([Code.Unavailable, Code.Unavailable, "ok"]);
    const result = settle(call(unaryRequest(methods.getItem)));
    await vi.runAllTimersAsync();
    expect((await result).ok).toBe(true);
    expect(seen).toHaveLength(3);
    const gaps = [seen[1]!.at - seen[0]!.at, seen[2]!.at - seen[1]!.at];
    expect(gaps[0]).toBeLessThanOrEqual(50);
    expect(gaps[1]).toBeLessThanOrEqual(100);
    expect(gaps[1]).toBeGreaterThan(gaps[0]!);
  });

  it("never retries a method without an idempotency level when the call carries no key", async () => {
    const { call, next } = setup([Code.Unavailable, "ok"]);
    const result = settle(call(unaryRequest(methods.putItem, { ownerId: "u1" })));
    await vi.runAllTimersAsync();
    expect(await result).toMatchObject({ ok: false, error: { code: Code.Unavailable } });
    expect(next).toHaveBeenCalledTimes(1);
  });

  it("retries a non-idempotent method whose request has an idempotency_key field", async () => {
    const { call, next } = setup([Code.Unavailable, "ok"]);
    const result = settle(call(unaryRequest(methods.putItem, { ownerId: "u1", idempotencyKey: "put-0001" })));
    await vi.runAllTimersAsync();
    expect((await result).ok).toBe(true);
    expect(next).toHaveBeenCalledTimes(2);
  });

  it("retries a non-idempotent method called with an idempotency-key header", async () => {
    const { call, next } = setup([Code.Unavailable, "ok"]);
    const result = settle(call(unaryRequest(methods.putItem, {}, { header: { "idempotency-key": "k-1" } })));
    await vi.runAllTimersAsync();
    expect((await result).ok).toBe(true);
    expect(next).toHaveBeenCalledTimes(2);
  });

  it("does not retry codes outside the retryable set", async () => {
    const { call, next } = setup([Code.Internal, "ok"]);
    const result = settle(call(unaryRequest(methods.getItem)));
    await vi.runAllTimersAsync();
    expect(await result).toMatchObject({ ok: false, error: { code: Code.Internal } });
    expect(next).toHaveBeenCalledTimes(1);
  });

  it("waits as long as the server's grpc-retry-pushback-ms says, and stops on a negative one", async () => {
    const pushback = (value: string) => (): Promise<UnaryResponse> =>
      Promise.reject(new ConnectError("busy", Code.Unavailable, { "grpc-retry-pushback-ms": value }));
    const { call, seen } = setup([pushback("700"), "ok"]);
    const result = settle(call(unaryRequest(methods.getItem)));
    await vi.runAllTimersAsync();
    expect((await result).ok).toBe(true);
    expect(seen[1]!.at - seen[0]!.at).toBe(700);

    const stop = setup([pushback("-1"), "ok"]);
    const stopped = settle(stop.call(unaryRequest(methods.getItem)));
    await vi.runAllTimersAsync();
    expect(await stopped).toMatchObject({ ok: false, error: { code: Code.Unavailable } });
    expect(stop.next).toHaveBeenCalledTimes(1);
  });

  it("gives each attempt the time left and never sleeps past the deadline", async () => {
    const { call, seen } = setup([Code.Unavailable, Code.Unavailable, "ok"], { initialBackoffMs: 80 });
    const req = unaryRequest(methods.getItem);
    req.contextValues.set(deadlineKey, Date.now() + 100);
    const result = settle(call(req));
    await vi.runAllTimersAsync();
    // The first retry waits ~80 ms; a second would end past the deadline, so the call fails now.
    expect(await result).toMatchObject({ ok: false, error: { code: Code.Unavailable } });
    expect(seen.map((s) => s.timeout)).toEqual(["100m", `${100 - (seen[1]!.at - seen[0]!.at)}m`]);
  });

  it("abandons an attempt after the per-attempt timeout and retries it", async () => {
    const hang = (req: UnaryRequest) =>
      new Promise<UnaryResponse>((_, reject) => req.signal.addEventListener("abort", () => reject(req.signal.reason as Error)));
    const { call, seen } = setup([hang, "ok"], { perAttemptTimeoutMs: 30 });
    const result = settle(call(unaryRequest(methods.getItem)));
    await vi.runAllTimersAsync();
    expect((await result).ok).toBe(true);
    expect(seen[0]!.timeout).toBe("30m");
    expect(seen).toHaveLength(2);
  });

  it("stops retrying when the budget is spent and says so", async () => {
    const budget = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0.1 });
    const { call, events } = setup([Code.Unavailable, Code.Unavailable, Code.Unavailable, Code.Unavailable], {}, budget);
    const first = settle(call(unaryRequest(methods.getItem)));
    await vi.runAllTimersAsync();
    expect(await first).toMatchObject({ ok: false, error: { code: Code.Unavailable } });
    expect(events.map((e) => e.type)).toEqual(["retry", "retry-budget-exhausted"]);
  });
});
