import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "@protomesh/clients/health";
import { HealthRegistry } from "@protomesh/server";

describe("HealthRegistry", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("is SERVING without probes, and only for names it serves", async () => {
    const registry = new HealthRegistry();
    registry.addService("acme.items.v1.ItemService");
    expect(await registry.status("")).toBe(ServingStatus.SERVING);
    expect(await registry.status("acme.items.v1.ItemService")).toBe(ServingStatus.SERVING);
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

  it("turns NOT_SERVING only once a probe has failed on every run for its notReadyAfterMs, and SERVING at its first pass", async () => {
    const registry = new HealthRegistry({ probeTimeoutMs: 100 });
    let answer: "yes" | "no" | "hang" = "hang";
    registry.addProbe("database", () => (answer === "hang" ? new Promise<boolean>(() => {}) : answer === "yes"), { notReadyAfterMs: 10_000 });
    const slow = registry.status("");
    await vi.advanceTimersByTimeAsync(100);
    expect(await slow).toBe(ServingStatus.SERVING);
    answer = "no";
    await vi.advanceTimersByTimeAsync(9_000);
    expect(await registry.status("")).toBe(ServingStatus.SERVING);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await registry.status("")).toBe(ServingStatus.NOT_SERVING);
    answer = "yes";
    expect(await registry.status("")).toBe(ServingStatus.SERVING);
    answer = "no";
    expect(await registry.status("")).toBe(ServingStatus.SERVING);
  });

  it("reports each change of status with the failing probes and their reasons", async () => {
    const changes: [ServingStatus, readonly string[]][] = [];
    const registry = new HealthRegistry({ onStatusChange: (status, failing) => changes.push([status, failing]) });
    let publishing: { ready: boolean; reason?: string } = { ready: true };
    registry.addProbe("publishing", () => publishing);
    registry.addProbe("database", () => true);
    await registry.status("");
    publishing = { ready: false, reason: "outbox relay publishes failing for 15 s (last error: TIMEOUT)" };
    await registry.status("");
    await registry.status("");
    publishing = { ready: true };
    await registry.status("");
    expect(changes).toEqual([
      [ServingStatus.NOT_SERVING, ["publishing: outbox relay publishes failing for 15 s (last error: TIMEOUT)"]],
      [ServingStatus.SERVING, []],
    ]);
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
