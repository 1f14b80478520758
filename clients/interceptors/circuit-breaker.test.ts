import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Code, ConnectError, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { CallNotSentError, circuitBreakerInterceptor, type CircuitBreakerOptions, type ClientEvent, isCallNotSentError, isCircuitOpenError } from "@protomesh/clients";
import { methods, settle, unaryRequest, unaryResponse } from "../../test/clients/helpers/requests.js";
import { ClientEvents } from "../events.js";

const options: CircuitBreakerOptions = {
  failureThreshold: 3,
  openMs: 1_000,
  maxOpenMs: 5_000,
  failureCodes: [Code.Unavailable, Code.DeadlineExceeded],
};

function setup(overrides: Partial<CircuitBreakerOptions> = {}) {
  const events: ClientEvent[] = [];
  const bus = new ClientEvents();
  bus.on((e) => events.push(e));
  let fail: Code | "not-sent" | undefined = Code.Unavailable;
  const next = vi.fn((req: UnaryRequest): Promise<UnaryResponse> =>
    fail === undefined
      ? Promise.resolve(unaryResponse(req))
      : Promise.reject(fail === "not-sent" ? new CallNotSentError("no endpoint of items.example.org:443 is available", "no-endpoint") : new ConnectError("injected", fail)),
  );
  const call = circuitBreakerInterceptor({ ...options, ...overrides }, bus)(next as never) as (req: UnaryRequest) => Promise<UnaryResponse>;
  return {
    call: () => settle(call(unaryRequest(methods.getItem))),
    next,
    events,
    bus,
    setFail: (outcome: Code | "not-sent" | undefined) => (fail = outcome),
  };
}

describe("circuit breaker interceptor", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("opens after consecutive failures and then fails fast with Unavailable without calling", async () => {
    const { call, next, events } = setup();
    for (let i = 0; i < 3; i++) {
      await call();
    }
    const result = await call();
    expect(next).toHaveBeenCalledTimes(3);
    expect(result.ok).toBe(false);
    const error = (result as { error: unknown }).error;
    expect(isCircuitOpenError(error)).toBe(true);
    expect(error).toMatchObject({ code: Code.Unavailable });
    expect((error as Error).message).toMatch(/circuit open for protomesh\.test\.v1\.ItemService\/GetItem/);
    expect(events).toEqual([{ type: "circuit-opened", key: "protomesh.test.v1.ItemService/GetItem", durationMs: 1_000 }]);
  });

  it("lets one probe through when half-open, and closes when it succeeds", async () => {
    const { call, next, events, setFail } = setup();
    for (let i = 0; i < 3; i++) {
      await call();
    }
    await vi.advanceTimersByTimeAsync(1_000);
    setFail(undefined);
    expect((await call()).ok).toBe(true);
    expect(next).toHaveBeenCalledTimes(4);
    expect(events.map((e) => e.type)).toEqual(["circuit-opened", "circuit-half-open", "circuit-closed"]);
  });

  it("reopens for longer when the probe fails", async () => {
    const { call, next, events } = setup();
    for (let i = 0; i < 3; i++) {
      await call();
    }
    await vi.advanceTimersByTimeAsync(1_000);
    await call();
    expect(events.at(-1)).toMatchObject({ type: "circuit-opened", durationMs: 2_000 });
    await vi.advanceTimersByTimeAsync(1_999);
    await call();
    expect(next).toHaveBeenCalledTimes(4);
  });

  it("does not count errors the server chose (NotFound) as failures", async () => {
    const { call, next, setFail } = setup();
    setFail(Code.NotFound);
    for (let i = 0; i < 5; i++) {
      await call();
    }
    expect(next).toHaveBeenCalledTimes(5);
  });

  it("answers with the method's fallback when the circuit is open", async () => {
    const { call, next } = setup({ fallbacks: { GetItem: () => ({ item: { itemId: "cached" } }) } });
    for (let i = 0; i < 3; i++) {
      await call();
    }
    const result = await call();
    expect(next).toHaveBeenCalledTimes(3);
    expect(result).toMatchObject({ ok: true, value: { message: { item: { itemId: "cached" } } } });
  });

  it("does not count calls no server received (no endpoint available) toward opening", async () => {
    const { call, next, events, setFail } = setup();
    setFail("not-sent");
    for (let i = 0; i < 10; i++) {
      const result = await call();
      expect(isCallNotSentError((result as { error: unknown }).error)).toBe(true);
    }
    expect(next).toHaveBeenCalledTimes(10);
    expect(events).toEqual([]);
  });

  it("neither resets nor adds to the count of consecutive failures on a call that was not sent", async () => {
    const { call, events, setFail } = setup();
    await call();
    await call();
    setFail("not-sent");
    await call();
    setFail(Code.Unavailable);
    expect(events).toEqual([]);
    await call();
    expect(events.map((e) => e.type)).toEqual(["circuit-opened"]);
  });

  it("releases a half-open probe that was not sent without reopening, and the next call probes", async () => {
    const { call, next, events, setFail } = setup();
    for (let i = 0; i < 3; i++) {
      await call();
    }
    await vi.advanceTimersByTimeAsync(1_000);
    setFail("not-sent");
    const probe = await call();
    expect(isCallNotSentError((probe as { error: unknown }).error)).toBe(true);
    expect(events.map((e) => e.type)).toEqual(["circuit-opened", "circuit-half-open"]);
    setFail(undefined);
    expect((await call()).ok).toBe(true);
    expect(next).toHaveBeenCalledTimes(5);
    expect(events.map((e) => e.type)).toEqual(["circuit-opened", "circuit-half-open", "circuit-closed"]);
  });

  it("still answers a call that was not sent with the method's fallback", async () => {
    const { call, setFail } = setup({ fallbacks: { GetItem: () => ({ item: { itemId: "cached" } }) } });
    setFail("not-sent");
    expect(await call()).toMatchObject({ ok: true, value: { message: { item: { itemId: "cached" } } } });
  });

  it("turns half-open at once when an endpoint is readmitted, before the open time is up", async () => {
    const { call, next, events, bus, setFail } = setup();
    for (let i = 0; i < 3; i++) {
      await call();
    }
    await vi.advanceTimersByTimeAsync(100);
    expect(isCircuitOpenError(((await call()) as { error: unknown }).error)).toBe(true);
    bus.emit({ type: "endpoint-readmitted", address: "127.0.0.1:9000" });
    setFail(undefined);
    expect((await call()).ok).toBe(true);
    expect(next).toHaveBeenCalledTimes(4);
    expect(events.map((e) => e.type)).toEqual(["circuit-opened", "endpoint-readmitted", "circuit-half-open", "circuit-closed"]);
  });
});
