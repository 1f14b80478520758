import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "protomesh/gen/grpc/health/v1/health_pb";
import { HealthRegistry } from "protomesh/kit/connect";

describe("HealthRegistry", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("is SERVING without probes, and only for names it serves", async () => {
    const registry = new HealthRegistry();
    registry.addService("shop.orders.v1.OrdersService");
    expect(await registry.status("")).toBe(ServingStatus.SERVING);
    expect(await registry.status("shop.orders.v1.OrdersService")).toBe(ServingStatus.SERVING);
    expect(await registry.status("other.Service")).toBeUndefined();
  });

  it("is NOT_SERVING when a probe says no, throws, or is slower than its timeout", async () => {
    const registry = new HealthRegistry({ probeTimeoutMs: 100 });
    registry.addProbe("database", () => false);
    expect(await registry.status("")).toBe(ServingStatus.NOT_SERVING);
    registry.addProbe("database", () => {
      throw new Error("down");
    });
    expect(await registry.status("")).toBe(ServingStatus.NOT_SERVING);
    registry.addProbe("database", () => new Promise<boolean>(() => {}));
    const slow = registry.status("");
    await vi.advanceTimersByTimeAsync(100);
    expect(await slow).toBe(ServingStatus.NOT_SERVING);
  });

  it("watch yields the status now and then each change, until its signal aborts", async () => {
    const registry = new HealthRegistry({ watchIntervalMs: 1000 });
    let up = true;
    registry.addProbe("nats", () => up);
    const abort = new AbortController();
    const seen: ServingStatus[] = [];
    const done = (async () => {
      for await (const status of registry.watch("", abort.signal)) seen.push(status);
    })();
    await vi.advanceTimersByTimeAsync(2500);
    up = false;
    await vi.advanceTimersByTimeAsync(1000);
    abort.abort();
    await done;
    expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
  });

  it("watch reports SERVICE_UNKNOWN for a name it does not serve", async () => {
    const abort = new AbortController();
    const it = new HealthRegistry().watch("nope", abort.signal)[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(ServingStatus.SERVICE_UNKNOWN);
    abort.abort();
  });

  it("stays NOT_SERVING after shutdown", async () => {
    const registry = new HealthRegistry();
    registry.shutdown();
    expect(await registry.status("")).toBe(ServingStatus.NOT_SERVING);
  });
});
