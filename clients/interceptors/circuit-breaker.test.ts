import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Code, ConnectError, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { circuitBreakerInterceptor, type CircuitBreakerOptions, type ClientEvent, isCircuitOpenError } from "protomesh/clients";
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
  let fail: Code | undefined = Code.Unavailable;
  const next = vi.fn((req: UnaryRequest): Promise<UnaryResponse> =>
    fail === undefined ? Promise.resolve(unaryResponse(req)) : Promise.reject(new ConnectError("injected", fail)),
  );
  const call = circuitBreakerInterceptor({ ...options, ...overrides }, bus)(next as never) as (req: UnaryRequest) => Promise<UnaryResponse>;
  return { call: () => settle(call(unaryRequest(methods.getOrder))), next, events, setFail: (code: Code | undefined) => (fail = code) };
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
    expect((error as Error).message).toMatch(/circuit open for shop\.orders\.v1\.OrdersService\/GetOrder/);
    expect(events).toEqual([{ type: "circuit-opened", key: "shop.orders.v1.OrdersService/GetOrder", durationMs: 1_000 }]);
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
    const { call, next } = setup({ fallbacks: { GetOrder: () => ({ order: { orderId: "cached" } }) } });
    for (let i = 0; i < 3; i++) {
      await call();
    }
    const result = await call();
    expect(next).toHaveBeenCalledTimes(3);
    expect(result).toMatchObject({ ok: true, value: { message: { order: { orderId: "cached" } } } });
  });
});
