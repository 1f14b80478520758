import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type Address, DnsResolver } from "@protomesh/clients";

describe("DnsResolver", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function start(lookup: (host: string) => Promise<readonly string[]>) {
    const updates: string[][] = [];
    const errors: unknown[] = [];
    const resolver = new DnsResolver({ host: "items.example.org", port: 8443, refreshIntervalMs: 1_000, minResolveIntervalMs: 100, lookup });
    resolver.start({ onUpdate: (a: readonly Address[]) => updates.push(a.map((x) => `${x.host}:${x.port}`)), onError: (e) => errors.push(e) });
    return { resolver, updates, errors };
  }

  it("re-resolves periodically and reports every A/AAAA address with the port", async () => {
    let records = ["10.0.0.1", "fd00::1"];
    const { resolver, updates } = start(() => Promise.resolve(records));
    await vi.advanceTimersByTimeAsync(0);
    records = ["10.0.0.2"];
    await vi.advanceTimersByTimeAsync(1_000);
    expect(updates).toEqual([["10.0.0.1:8443", "fd00::1:8443"], ["10.0.0.2:8443"]]);
    resolver.close();
  });

  it("re-resolves on demand after a connection failure, at most once per minimum interval", async () => {
    const lookup = vi.fn(() => Promise.resolve(["10.0.0.1"]));
    const { resolver } = start(lookup);
    await vi.advanceTimersByTimeAsync(0);
    resolver.resolveNow();
    expect(lookup).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(100);
    resolver.resolveNow();
    expect(lookup).toHaveBeenCalledTimes(2);
    resolver.close();
  });

  it("keeps the last good set when a lookup fails", async () => {
    let fail = false;
    const { resolver, updates, errors } = start(() => (fail ? Promise.reject(new Error("SERVFAIL")) : Promise.resolve(["10.0.0.1"])));
    await vi.advanceTimersByTimeAsync(0);
    fail = true;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(updates).toHaveLength(1);
    expect(errors).toHaveLength(1);
    resolver.close();
  });
});
